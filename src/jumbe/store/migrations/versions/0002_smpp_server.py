"""smpp server

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "smpp_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('receipt', 'mo')", name=op.f("ck_smpp_outbox_kind")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_smpp_outbox_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_smpp_outbox_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_outbox")),
    )
    with op.batch_alter_table("smpp_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_smpp_outbox_due",
            ["account_id", "next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("smpp_max_sessions", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("smpp_tps", sa.Float(), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("udh", sa.String(length=64), nullable=True))
        # the old default (true) cannot be cast to an integer: drop it first
        batch_op.alter_column("registered_delivery", server_default=None)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column(
            "registered_delivery",
            existing_type=sa.Boolean(),
            type_=sa.Integer(),
            existing_nullable=False,
            server_default="0",
            # until now only REST sent messages, and REST asks for webhooks, not SMPP receipts
            postgresql_using="0",
        )
    op.execute("UPDATE messages SET registered_delivery = 0")


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("registered_delivery", server_default=None)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column(
            "registered_delivery",
            existing_type=sa.Integer(),
            type_=sa.Boolean(),
            existing_nullable=False,
            server_default=sa.text("true"),
            postgresql_using="registered_delivery <> 0",
        )
        batch_op.drop_column("udh")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("smpp_tps")
        batch_op.drop_column("smpp_max_sessions")

    with op.batch_alter_table("smpp_outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_smpp_outbox_due",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.drop_table("smpp_outbox")
