"""Pricing per account, packages (KES per unit per carrier) and top-ups

``accounts.pricing`` chooses how a message is priced in units: ``segments``
(every existing account keeps today's rule) or ``kimisms`` (1 unit per 160
characters). ``packages`` are the operator's rates. ``topups`` are purchases of
units, paid by M-Pesa (STK push) or offline and approved by staff; each
completed one points at the ledger credit that added its units.
``topups.sender_id`` is for sender IDs' own floats (NULL: the team wallet).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pricing", sa.String(length=16), server_default="segments", nullable=False)
        )
        batch_op.create_check_constraint("pricing", "pricing IN ('segments', 'kimisms')")
    op.create_table(
        "packages",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("rate_cents", sa.BigInteger(), nullable=False),
        sa.Column("min_units", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate_cents > 0", name=op.f("ck_packages_rate_positive")),
        sa.CheckConstraint("min_units > 0", name=op.f("ck_packages_min_units_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint("uuid", name=op.f("uq_packages_uuid")),
        sa.UniqueConstraint("carrier", "name", name=op.f("uq_packages_carrier_name")),
    )
    op.create_table(
        "topups",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=True),
        sa.Column("package_id", Id, nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("rate_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_detail", sa.String(length=255), server_default="", nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=15), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("merchant_request_id", sa.String(length=64), nullable=True),
        sa.Column("checkout_request_id", sa.String(length=64), nullable=True),
        sa.Column("callback_key_hash", sa.String(length=64), nullable=True),
        sa.Column("mpesa_receipt", sa.String(length=32), nullable=True),
        sa.Column("result_code", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=254), nullable=True),
        sa.Column("ledger_entry_id", Id, nullable=True),
        sa.Column("query_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("query_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("method IN ('mpesa', 'offline')", name=op.f("ck_topups_method")),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed')", name=op.f("ck_topups_status")
        ),
        sa.CheckConstraint("units > 0 AND amount_cents > 0", name=op.f("ck_topups_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_topups_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_topups_package_id_packages")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_topups_ledger_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topups")),
        sa.UniqueConstraint("uuid", name=op.f("uq_topups_uuid")),
        sa.UniqueConstraint("checkout_request_id", name=op.f("uq_topups_checkout_request_id")),
        sa.UniqueConstraint("callback_key_hash", name=op.f("uq_topups_callback_key_hash")),
        sa.UniqueConstraint("mpesa_receipt", name=op.f("uq_topups_mpesa_receipt")),
    )
    op.create_index("ix_topups_account_id_id", "topups", ["account_id", "id"])
    op.create_index(
        "ix_topups_query_at", "topups", ["query_at"], sqlite_where=PENDING, postgresql_where=PENDING
    )


def downgrade() -> None:
    op.drop_index("ix_topups_query_at", table_name="topups")
    op.drop_index("ix_topups_account_id_id", table_name="topups")
    op.drop_table("topups")
    op.drop_table("packages")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint("pricing", type_="check")
        batch_op.drop_column("pricing")
