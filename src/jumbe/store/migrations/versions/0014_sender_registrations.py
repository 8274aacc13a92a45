"""Sender registrations per carrier, applications with KYC documents, the team default

``sender_ids`` rows become registrations: each gains a ``carrier`` and a
``campaign_type`` (and the application it came from), and a name is unique per
account and carrier instead of per account, so one name may be registered on
several carriers. Senders that exist already keep working exactly as before:
they are carried over as approved on every carrier (``carrier`` '*') and
TRANSACTIONAL.

The default sender moves from a flag on one row (``is_default``) to the
account (``accounts.default_sender``, a name): with one row per carrier, the
default is a name resolved for each recipient's carrier.

``sender_applications``, ``sender_application_events`` and
``sender_documents`` hold the customers' applications, every change of their
state with who and when, and their KYC documents (the files live under the
data dir; the rows say where).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CAMPAIGN_TYPES = "campaign_type IN ('PROMOTIONAL', 'TRANSACTIONAL')"


def upgrade() -> None:
    op.create_table(
        "sender_applications",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("campaign_type", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=500), server_default="", nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("applied_by", Id, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('alphanumeric', 'short_code')", name=op.f("ck_sender_applications_kind")
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PROVIDER', 'APPROVED', 'REJECTED')",
            name=op.f("ck_sender_applications_status"),
        ),
        sa.CheckConstraint(CAMPAIGN_TYPES, name=op.f("ck_sender_applications_campaign_type")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sender_applications_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["applied_by"], ["users.id"], name=op.f("fk_sender_applications_applied_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_applications")),
        sa.UniqueConstraint("uuid", name=op.f("uq_sender_applications_uuid")),
    )
    op.create_index(
        op.f("ix_sender_applications_account_id"), "sender_applications", ["account_id"]
    )
    op.create_table(
        "sender_application_events",
        sa.Column("id", Id, nullable=False),
        sa.Column("application_id", Id, nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_kind", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "actor_kind IN ('member', 'staff', 'operator')",
            name=op.f("ck_sender_application_events_actor_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["sender_applications.id"],
            name=op.f("fk_sender_application_events_application_id_sender_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_application_events")),
    )
    op.create_index(
        op.f("ix_sender_application_events_application_id"),
        "sender_application_events",
        ["application_id"],
    )
    op.create_table(
        "sender_documents",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("application_id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('business_registration', 'authorisation_letter')",
            name=op.f("ck_sender_documents_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sender_documents_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["sender_applications.id"],
            name=op.f("fk_sender_documents_application_id_sender_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_documents")),
        sa.UniqueConstraint("uuid", name=op.f("uq_sender_documents_uuid")),
    )
    op.create_index(
        op.f("ix_sender_documents_application_id"), "sender_documents", ["application_id"]
    )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_sender", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE accounts SET default_sender = (SELECT MIN(s.name) FROM sender_ids s"
        " WHERE s.account_id = accounts.id AND s.is_default AND s.status = 'approved')"
    )
    with op.batch_alter_table("sender_ids", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("carrier", sa.String(length=40), server_default="*", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "campaign_type",
                sa.String(length=16),
                server_default="TRANSACTIONAL",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("application_id", Id, nullable=True))
        batch_op.drop_constraint("uq_sender_ids_account_id_name", type_="unique")
        batch_op.create_unique_constraint(
            "uq_sender_ids_account_id_name_carrier", ["account_id", "name", "carrier"]
        )
        batch_op.create_check_constraint("campaign_type", CAMPAIGN_TYPES)
        batch_op.create_foreign_key(
            "fk_sender_ids_application_id_sender_applications",
            "sender_applications",
            ["application_id"],
            ["id"],
        )
        batch_op.drop_column("is_default")


def downgrade() -> None:
    """Back to one row per name: registrations beyond the first of a name are dropped."""
    op.execute(
        "DELETE FROM sender_ids WHERE id NOT IN"
        " (SELECT MIN(id) FROM sender_ids GROUP BY account_id, name)"
    )
    with op.batch_alter_table("sender_ids", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_constraint(
            "fk_sender_ids_application_id_sender_applications", type_="foreignkey"
        )
        batch_op.drop_constraint(op.f("ck_sender_ids_campaign_type"), type_="check")
        batch_op.drop_constraint("uq_sender_ids_account_id_name_carrier", type_="unique")
        batch_op.create_unique_constraint("uq_sender_ids_account_id_name", ["account_id", "name"])
        batch_op.drop_column("application_id")
        batch_op.drop_column("campaign_type")
        batch_op.drop_column("carrier")
    op.execute(
        "UPDATE sender_ids SET is_default = true WHERE EXISTS (SELECT 1 FROM accounts a"
        " WHERE a.id = sender_ids.account_id AND a.default_sender = sender_ids.name)"
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("default_sender")
    op.drop_index(op.f("ix_sender_documents_application_id"), table_name="sender_documents")
    op.drop_table("sender_documents")
    op.drop_index(
        op.f("ix_sender_application_events_application_id"),
        table_name="sender_application_events",
    )
    op.drop_table("sender_application_events")
    op.drop_index(op.f("ix_sender_applications_account_id"), table_name="sender_applications")
    op.drop_table("sender_applications")
