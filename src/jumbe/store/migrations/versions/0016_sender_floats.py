"""Sender floats: a wallet is (account, asset, sender registration or none)

Kimisms keeps a float per sender ID beside the team's wallet (Mobile Sasa).
``wallets`` gets a surrogate key and ``sender_id`` (NULL: the team's wallet of
the asset, one per account and asset by a partial unique index; else that
registration's own float of units, one by a unique constraint), and
``ledger_entries.sender_id`` says which wallet an entry moved, so a refund
goes back to the wallet that paid. Every existing wallet is a team wallet and
every existing entry moved one: nothing is rewritten.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TEAM = sa.text("sender_id IS NULL")


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_id", Id, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_ledger_entries_sender_id_sender_ids"), "sender_ids", ["sender_id"], ["id"]
        )
    if conn.dialect.name == "sqlite":
        _rebuild_wallets_sqlite(conn)
    else:
        op.drop_constraint("pk_wallets", "wallets", type_="primary")
        op.execute("ALTER TABLE wallets ADD COLUMN id BIGSERIAL")
        op.create_primary_key("pk_wallets", "wallets", ["id"])
        op.add_column("wallets", sa.Column("sender_id", Id, nullable=True))
        op.create_foreign_key(
            op.f("fk_wallets_sender_id_sender_ids"), "wallets", "sender_ids", ["sender_id"], ["id"]
        )
        op.create_check_constraint(
            op.f("ck_wallets_float_in_units"), "wallets", "sender_id IS NULL OR asset = 'units'"
        )
        op.create_unique_constraint(
            op.f("uq_wallets_account_id_asset_sender_id"),
            "wallets",
            ["account_id", "asset", "sender_id"],
        )
    op.create_index(
        "ux_wallets_account_id_asset",
        "wallets",
        ["account_id", "asset"],
        unique=True,
        sqlite_where=TEAM,
        postgresql_where=TEAM,
    )


def _rebuild_wallets_sqlite(conn: sa.Connection) -> None:
    """SQLite cannot change a primary key: a new table, the rows copied, renamed."""
    op.create_table(
        "_wallets_new",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("asset", sa.String(length=8), server_default="units", nullable=False),
        sa.Column("sender_id", Id, nullable=True),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance >= 0", name="ck_wallets_balance_not_negative"),
        sa.CheckConstraint("asset IN ('units', 'KES')", name="ck_wallets_asset"),
        sa.CheckConstraint(
            "sender_id IS NULL OR asset = 'units'", name="ck_wallets_float_in_units"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_wallets_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["sender_ids.id"], name="fk_wallets_sender_id_sender_ids"
        ),
        sa.UniqueConstraint(
            "account_id", "asset", "sender_id", name="uq_wallets_account_id_asset_sender_id"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wallets"),
    )
    conn.execute(
        sa.text(
            "INSERT INTO _wallets_new (account_id, asset, balance, updated_at)"
            " SELECT account_id, asset, balance, updated_at FROM wallets"
            " ORDER BY account_id, asset"
        )
    )
    op.drop_table("wallets")
    op.rename_table("_wallets_new", "wallets")


def downgrade() -> None:
    # sender floats have no place in the older schema: their units go back to the team wallet
    conn = op.get_bind()
    op.execute(
        "UPDATE wallets SET balance = balance + (SELECT COALESCE(SUM(f.balance), 0)"
        " FROM wallets f WHERE f.account_id = wallets.account_id AND f.asset = wallets.asset"
        " AND f.sender_id IS NOT NULL) WHERE sender_id IS NULL"
    )
    op.execute("DELETE FROM wallets WHERE sender_id IS NOT NULL")
    op.drop_index("ux_wallets_account_id_asset", table_name="wallets")
    if conn.dialect.name == "sqlite":
        op.create_table(
            "_wallets_old",
            sa.Column("account_id", Id, nullable=False),
            sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("asset", sa.String(length=8), server_default="units", nullable=False),
            sa.CheckConstraint("balance >= 0", name="ck_wallets_balance_not_negative"),
            sa.CheckConstraint("asset IN ('units', 'KES')", name="ck_wallets_asset"),
            sa.ForeignKeyConstraint(
                ["account_id"], ["accounts.id"], name="fk_wallets_account_id_accounts"
            ),
            sa.PrimaryKeyConstraint("account_id", "asset", name="pk_wallets"),
        )
        conn.execute(
            sa.text(
                "INSERT INTO _wallets_old (account_id, balance, updated_at, asset)"
                " SELECT account_id, balance, updated_at, asset FROM wallets"
            )
        )
        op.drop_table("wallets")
        op.rename_table("_wallets_old", "wallets")
    else:
        op.drop_constraint("uq_wallets_account_id_asset_sender_id", "wallets", type_="unique")
        op.drop_constraint("fk_wallets_sender_id_sender_ids", "wallets", type_="foreignkey")
        op.drop_constraint(op.f("ck_wallets_float_in_units"), "wallets", type_="check")
        op.drop_column("wallets", "sender_id")
        op.drop_constraint("pk_wallets", "wallets", type_="primary")
        op.drop_column("wallets", "id")
        op.create_primary_key("pk_wallets", "wallets", ["account_id", "asset"])
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_ledger_entries_sender_id_sender_ids"), type_="foreignkey")
        batch_op.drop_column("sender_id")
