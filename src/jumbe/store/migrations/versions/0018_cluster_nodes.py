"""nodes, bind_slots, smpp_sessions: heartbeats, so the live take over a dead node's leases; bind slots

Without heartbeats a killed node's claimed messages and callbacks waited for their
leases to run out (5 and 2 minutes) unless the same JUMBE_NODE_ID came back. Each
node now writes its heartbeat here; the others release the leases of a node that
stopped beating, within seconds. Each node bound every connector's ``binds`` at
its full TPS, so N nodes bound N times the carrier's limit; the slots are now
rows, each held by one node. An account's SMPP session limit was counted per
node; its sessions are now rows too (smpp_sessions), whichever node holds them.
On PostgreSQL the hot tables get room for HOT updates and tighter autovacuum.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# PostgreSQL only: the tables every message updates several times. Room left in each
# page (fillfactor) lets an update whose indexed columns do not change stay in the
# page (a HOT update, no index writes); vacuum and analyse after 2 % of the rows
# changed instead of the default 20 %, so a table of millions of rows is not left
# to bloat between vacuums (the issue measured throughput halving until a VACUUM).
_BUSY = {
    "autovacuum_vacuum_scale_factor": 0.02,
    "autovacuum_analyze_scale_factor": 0.02,
    "autovacuum_vacuum_insert_scale_factor": 0.05,
    "autovacuum_vacuum_cost_limit": 2000,
}
HOT_TABLES: dict[str, dict[str, float | int]] = {
    "messages": {"fillfactor": 80, **_BUSY},
    "message_parts": {"fillfactor": 90, **_BUSY},
    "notifications": {"fillfactor": 70, **_BUSY},
    "smpp_outbox": {"fillfactor": 70, **_BUSY},
    "wallets": {"fillfactor": 50},
    "nodes": {"fillfactor": 50},
    "bind_slots": {"fillfactor": 50},
}

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_nodes")),
    )

    op.create_table(
        "bind_slots",
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("connector", "slot", name=op.f("pk_bind_slots")),
    )
    op.create_table(
        "smpp_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_smpp_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_sessions")),
    )
    op.create_index("ix_smpp_sessions_account_id", "smpp_sessions", ["account_id"])
    op.create_index("ix_smpp_sessions_node_id", "smpp_sessions", ["node_id"])
    with op.batch_alter_table("smpp_outbox") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(128), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for table, options in HOT_TABLES.items():
            settings = ", ".join(f"{k} = {v}" for k, v in options.items())
            op.execute(f"ALTER TABLE {table} SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, options in HOT_TABLES.items():
            op.execute(f"ALTER TABLE {table} RESET ({', '.join(options)})")
    with op.batch_alter_table("smpp_outbox") as batch:
        batch.drop_column("lease_owner")
    op.drop_table("smpp_sessions")
    op.drop_table("bind_slots")
    op.drop_table("nodes")
