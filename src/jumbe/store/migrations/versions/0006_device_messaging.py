"""device messaging: messages know their IoT SIM; the SIM portal can hide them

Messages to and from an IoT SIM are ordinary message rows (same pipeline,
ledger and receipts) that also carry the SIM's id. The SIM portal's "delete"
hides them from its own views: the row stays for the ledger, receipts and
the native API. An M2M ``sms_uid`` (kept in client_ref) is unique per account.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = sa.text("status IN ('accepted', 'sent')")
DEVICE = sa.text("sim_id IS NOT NULL")
M2M = sa.text("source = 'm2m'")
FK = "fk_messages_sim_id_sims"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("portal_hidden_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(FK, "sims", ["sim_id"], ["id"])
    op.create_index("ix_messages_sim_id_id", "messages", ["sim_id", "id"])
    op.create_index(
        "ix_messages_sim_unfinished",
        "messages",
        ["sim_id"],
        sqlite_where=UNFINISHED,
        postgresql_where=UNFINISHED,
    )
    op.create_index(
        "ix_messages_device_account_id_id",
        "messages",
        ["account_id", "id"],
        sqlite_where=DEVICE,
        postgresql_where=DEVICE,
    )
    op.create_index(
        "ux_messages_m2m_account_id_client_ref",
        "messages",
        ["account_id", "client_ref"],
        unique=True,
        sqlite_where=M2M,
        postgresql_where=M2M,
    )


def downgrade() -> None:
    op.drop_index("ux_messages_m2m_account_id_client_ref", table_name="messages")
    op.drop_index("ix_messages_device_account_id_id", table_name="messages")
    op.drop_index("ix_messages_sim_unfinished", table_name="messages")
    op.drop_index("ix_messages_sim_id_id", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.drop_column("portal_hidden_at")
        batch_op.drop_column("sim_id")
