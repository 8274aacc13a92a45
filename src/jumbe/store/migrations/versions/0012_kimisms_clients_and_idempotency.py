"""OAuth clients per face, and idempotency keys

The Kimisms API authenticates with OAuth client credentials as the Daraja faces
do, but a Kimisms client must not open the SIM portal nor a Daraja consumer key
send bulk SMS: each client belongs to one face (existing ones to Daraja).

``idempotency_keys`` remembers, per account and key, the request's fingerprint,
the message it created (written in the message's own transaction, so a key can
never send twice) and the first answer, which a repeat gets back for 24 hours.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("face", sa.String(16), nullable=False, server_default="daraja")
        )
    op.create_index("ix_oauth_clients_account_face", "oauth_clients", ["account_id", "face"])
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("message_id", Id, sa.ForeignKey("messages.id")),
        sa.Column("response_status", sa.Integer()),
        sa.Column("response_body", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_oauth_clients_account_face", table_name="oauth_clients")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("face")
