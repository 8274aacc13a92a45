"""iot sims and imsi check

Revision ID: 0003
Revises: 0002
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("offering_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="Active", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("offering_id", name=op.f("pk_products")),
    )
    op.create_table(
        "subscribers",
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_subscribers")),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_oauth_clients_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_key", name=op.f("uq_oauth_clients_client_key")),
    )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_clients_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "sim_swaps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("old_imsi", sa.String(length=15), nullable=False),
        sa.Column("new_imsi", sa.String(length=15), nullable=False),
        sa.Column("swapped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["msisdn"], ["subscribers.msisdn"], name=op.f("fk_sim_swaps_msisdn_subscribers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_swaps")),
    )
    with op.batch_alter_table("sim_swaps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sim_swaps_msisdn_swapped_at", ["msisdn", "swapped_at"], unique=False
        )

    op.create_table(
        "sims",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("iccid", sa.String(length=22), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("asset_name", sa.String(length=64), nullable=True),
        sa.Column("imei", sa.String(length=16), nullable=True),
        sa.Column("sim_type", sa.String(length=24), server_default="standard", nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.String(length=254), nullable=True),
        sa.Column("expiry_year", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('idle', 'pooled', 'active', 'suspended', 'terminated')",
            name=op.f("ck_sims_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sims_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.offering_id"], name=op.f("fk_sims_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sims")),
        sa.UniqueConstraint("iccid", name=op.f("uq_sims_iccid")),
        sa.UniqueConstraint("imsi", name=op.f("uq_sims_imsi")),
        sa.UniqueConstraint("msisdn", name=op.f("uq_sims_msisdn")),
    )
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.create_index("ix_sims_account_id_id", ["account_id", "id"], unique=False)

    op.create_table(
        "imsi_checks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("msisdn", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("price", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "ledger_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('found', 'not_found', 'invalid')", name=op.f("ck_imsi_checks_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_imsi_checks_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_imsi_checks_ledger_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imsi_checks")),
    )
    with op.batch_alter_table("imsi_checks", schema=None) as batch_op:
        batch_op.create_index("ix_imsi_checks_account_id_id", ["account_id", "id"], unique=False)

    op.create_table(
        "oauth_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_oauth_tokens_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_tokens_client_id_oauth_clients"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oauth_tokens")),
    )
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_tokens_client_id"), ["client_id"], unique=False)

    op.create_table(
        "sim_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sim_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["sim_id"], ["sims.id"], name=op.f("fk_sim_events_sim_id_sims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_events")),
    )
    with op.batch_alter_table("sim_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sim_events_account_id_day_to_status",
            ["account_id", "day", "to_status"],
            unique=False,
        )
        batch_op.create_index("ix_sim_events_sim_id_id", ["sim_id", "id"], unique=False)

    # accounts: an account number for each existing account, then required and unique
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vpn_group", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    taken: set[str] = set()
    for account_id in conn.execute(sa.text("SELECT id FROM accounts")).scalars().all():
        vpn_group = _new_vpn_group(taken)
        conn.execute(
            sa.text("UPDATE accounts SET vpn_group = :v WHERE id = :id"),
            {"v": vpn_group, "id": account_id},
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("vpn_group", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_accounts_vpn_group"), ["vpn_group"])

    # ledger entries carry their asset; a 'charge' is a priced service (the IMSI check)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("asset", sa.String(length=8), server_default="units", nullable=False)
        )
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_ledger_entries_kind"),
            "kind IN ('credit', 'debit', 'refund', 'adjustment', 'charge')",
        )

    # owners may do everything on their SIMs
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("permissions", sa.String(length=255), server_default="", nullable=False)
        )
    op.execute(
        "UPDATE users SET permissions = 'view,activate,suspend_resume,rename,message'"
        " WHERE role = 'owner'"
    )

    # wallets: one per account and asset; every existing wallet holds units
    op.add_column(
        "wallets",
        sa.Column("asset", sa.String(length=8), server_default="units", nullable=False),
    )
    _rekey_wallets(conn, ["account_id", "asset"])
    op.execute(
        "INSERT INTO wallets (account_id, asset, balance, updated_at)"
        " SELECT account_id, 'KES', 0, updated_at FROM wallets WHERE asset = 'units'"
    )


def downgrade() -> None:
    # KES money and charges have no place in the older schema: they go
    op.drop_table("imsi_checks")
    op.execute("DELETE FROM wallets WHERE asset <> 'units'")
    op.execute("DELETE FROM ledger_entries WHERE asset <> 'units' OR kind = 'charge'")
    _rekey_wallets(op.get_bind(), ["account_id"])
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("asset")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("permissions")

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_ledger_entries_kind"), "kind IN ('credit', 'debit', 'refund', 'adjustment')"
        )
        batch_op.drop_column("asset")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_accounts_vpn_group"), type_="unique")
        batch_op.drop_column("vpn_group")

    with op.batch_alter_table("sim_events", schema=None) as batch_op:
        batch_op.drop_index("ix_sim_events_sim_id_id")
        batch_op.drop_index("ix_sim_events_account_id_day_to_status")

    op.drop_table("sim_events")
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_client_id"))

    op.drop_table("oauth_tokens")
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.drop_index("ix_sims_account_id_id")

    op.drop_table("sims")
    with op.batch_alter_table("sim_swaps", schema=None) as batch_op:
        batch_op.drop_index("ix_sim_swaps_msisdn_swapped_at")

    op.drop_table("sim_swaps")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_clients_account_id"))

    op.drop_table("oauth_clients")
    op.drop_table("subscribers")
    op.drop_table("products")


def _new_vpn_group(taken: set[str]) -> str:
    """An account number in Safaricom's form, 1-<12 digits>_VPN, unique among those drawn."""
    while True:
        value = f"1-{10**11 + secrets.randbelow(9 * 10**11)}_VPN"
        if value not in taken:
            taken.add(value)
            return value


def _rekey_wallets(conn: sa.Connection, key: list[str]) -> None:
    """Give wallets this primary key (and the asset check while asset is in it).

    SQLite cannot alter a primary key: the table is rebuilt from an explicit
    definition (reflection would keep the old key); PostgreSQL swaps it in place.
    """
    with_asset = "asset" in key
    if conn.dialect.name != "sqlite":
        if not with_asset:
            op.drop_constraint(op.f("ck_wallets_asset"), "wallets", type_="check")
        op.drop_constraint("pk_wallets", "wallets", type_="primary")
        op.create_primary_key("pk_wallets", "wallets", key)
        if with_asset:
            op.create_check_constraint(
                op.f("ck_wallets_asset"), "wallets", "asset IN ('units', 'KES')"
            )
        return
    account_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    wallets = sa.Table(
        "wallets",
        sa.MetaData(),
        sa.Column("account_id", account_id, nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asset", sa.String(length=8), server_default="units", nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_wallets_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_wallets_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint(*key, name="pk_wallets"),
        *(
            [sa.CheckConstraint("asset IN ('units', 'KES')", name=op.f("ck_wallets_asset"))]
            if with_asset
            else []
        ),
    )
    with op.batch_alter_table("wallets", copy_from=wallets, recreate="always"):
        pass
