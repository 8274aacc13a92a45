"""message_parts.query_at: when to ask the carrier about a part whose receipt has not come

A carrier may lose a receipt (a restarted SMSC, a dropped deliver_sm). A part still
without its status at ``query_at`` is asked about with ``query_sm`` on its connector
(see ``engine/receipt_queries.py``), which then moves ``query_at`` on. Only parts
without a status are indexed, so the index is as small as what is awaited. Parts
awaiting a receipt at the upgrade are due at once.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AWAITED = sa.text("status IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("query_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE message_parts SET query_at = submitted_at WHERE status IS NULL")
    op.create_index(
        "ix_message_parts_query_at",
        "message_parts",
        ["query_at"],
        sqlite_where=AWAITED,
        postgresql_where=AWAITED,
    )


def downgrade() -> None:
    op.drop_index("ix_message_parts_query_at", table_name="message_parts")
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.drop_column("query_at")
