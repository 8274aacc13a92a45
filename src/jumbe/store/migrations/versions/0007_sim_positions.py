"""sims.position: a dense per-account number, so an allsims page is an index seek

Safaricom's allsims pages by ``startAtIndex``. With ``OFFSET`` SQLite steps
over every earlier SIM of the account (28-49 ns each: the last page of
1,000,000 SIMs cost 28-49 ms); with a position numbered 0, 1, 2, ... per
account, the page is ``position >= start``. Imports hand positions out from
``accounts.sim_count`` in their own transaction (see ``sim_import``).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sim_count", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE sims SET position = numbered.n FROM"
        " (SELECT id, row_number() OVER (PARTITION BY account_id ORDER BY id) - 1 AS n"
        "  FROM sims) AS numbered"
        " WHERE numbered.id = sims.id"
    )
    op.execute(
        "UPDATE accounts SET sim_count ="
        " (SELECT count(*) FROM sims WHERE sims.account_id = accounts.id)"
    )
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.alter_column("position", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index("ix_sims_account_id_id")
        batch_op.create_index(
            "ux_sims_account_id_position", ["account_id", "position"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.drop_index("ux_sims_account_id_position")
        batch_op.create_index("ix_sims_account_id_id", ["account_id", "id"])
        batch_op.drop_column("position")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("sim_count")
