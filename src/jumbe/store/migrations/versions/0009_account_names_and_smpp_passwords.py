"""Unique account names (accounts.name_key) and SMPP passwords (accounts.smpp_password_hash)

``jumbe accounts create acme`` twice made two accounts that later commands
(which take a name) could not tell apart. New names are compared by their
folded form (Unicode NFKC, spacing collapsed, casefolded), kept in
``name_key`` under a unique index.

Databases may already hold such duplicates. Nothing is renamed or merged:
the oldest account of each group gets the key, later ones keep a NULL key
(NULLs never collide), stay findable by id, team code and account number,
and their name can no longer be taken by a new account.

The folding is copied here on purpose: a migration must keep doing what it
did when it was written, whatever the service's function becomes.

``smpp_password_hash`` holds the argon2 hash of the account's 8-character SMPP
password, which stock SMPP clients can send (they cut passwords to SMPP 3.4's
8 octets, and API tokens are longer). Existing accounts have none until the
operator issues one (``jumbe accounts smpp-password ACCOUNT``).

Revision ID: 0009
Revises: 0008
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_LENGTH = 255


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=KEY_LENGTH), nullable=True))
        batch_op.add_column(sa.Column("smpp_password_hash", sa.String(length=255), nullable=True))
    conn = op.get_bind()
    keys: dict[str, int] = {}
    for account_id, name in conn.execute(sa.text("SELECT id, name FROM accounts ORDER BY id")):
        key = _folded(name)
        if len(key) <= KEY_LENGTH and key not in keys:
            keys[key] = account_id
    if keys:
        conn.execute(
            sa.text("UPDATE accounts SET name_key = :key WHERE id = :id"),
            [{"key": key, "id": account_id} for key, account_id in keys.items()],
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index("ux_accounts_name_key", ["name_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ux_accounts_name_key")
        batch_op.drop_column("smpp_password_hash")
        batch_op.drop_column("name_key")
