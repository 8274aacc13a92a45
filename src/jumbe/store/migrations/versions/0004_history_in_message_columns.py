"""message history in columns: sent_at and sent_via replace the message_events table

A message moves accepted -> sent -> final, once each, so its history is three
timestamps on its own row. The events table cost two inserts per message on
the hottest path and said nothing the row cannot.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIA = "handed to carrier via "


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sent_via", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE messages SET"
        " sent_at = (SELECT e.created_at FROM message_events e"
        "            WHERE e.message_id = messages.id AND e.status = 'sent'),"
        f" sent_via = (SELECT replace(e.description, '{VIA}', '') FROM message_events e"
        "             WHERE e.message_id = messages.id AND e.status = 'sent')"
    )
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_message_id_id")
    op.drop_table("message_events")


def downgrade() -> None:
    op.create_table(
        "message_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_events_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.create_index("ix_message_events_message_id_id", ["message_id", "id"], unique=False)
    op.execute(
        "INSERT INTO message_events (message_id, status, description, created_at)"
        f" SELECT id, 'sent', '{VIA}' || coalesce(sent_via, 'a connector'), sent_at"
        " FROM messages WHERE sent_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO message_events (message_id, status, description, created_at)"
        " SELECT id, status, status_detail, status_at FROM messages"
        " WHERE status IN ('delivered', 'failed', 'expired', 'cancelled')"
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sent_via")
        batch_op.drop_column("sent_at")
