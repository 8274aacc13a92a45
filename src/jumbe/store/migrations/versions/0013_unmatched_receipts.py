"""unmatched_receipts: receipts that came before (or without) the submit they answer

A carrier may send a receipt before the node that submitted the message has
recorded the carrier's id for it (its submit_sm_resp is still being written, or
another node of a cluster took the receipt). Such a receipt was acknowledged and
dropped; now it is kept here, in the transaction that acknowledges it, and
applied when the submit is recorded (or by the sweeper, on any node).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmatched_receipts",
        sa.Column("connector", sa.String(64), primary_key=True),
        sa.Column("carrier_message_id", sa.String(65), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(16), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_unmatched_receipts_received_at", "unmatched_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_unmatched_receipts_received_at", table_name="unmatched_receipts")
    op.drop_table("unmatched_receipts")
