"""notifications: delivery id, sequence and lease owner; a message's pending callbacks indexed

Callbacks of one message leave in order: the sender finds a message's earliest
pending row through ``ix_notifications_message`` (only pending rows are
indexed, so it stays as small as the outbox's backlog). ``delivery_id`` and
``sequence`` go out with each callback (for the receiver's de-duplication and
ordering); ``lease_owner`` lets a restarted node take back its own claims at once.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_id", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_notifications_message",
        "notifications",
        ["message_id", "id"],
        unique=False,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_message", table_name="notifications")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("sequence")
        batch_op.drop_column("delivery_id")
