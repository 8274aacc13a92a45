"""Contacts, groups and their imports, templates, opt-outs

``contacts`` are one per number in an account, with their custom fields as a
JSON object keyed by the header names of the file they came from;
``contact_groups`` hold them (``group_members``) and remember those header
names for templates. ``contact_uploads`` are imports processed in the
background, with their rejected lines in ``contact_upload_errors``.
``suppressions`` are the numbers that texted STOP.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("first_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("fields", sa.Text(), server_default="{}", nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        _fk("contacts", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_contacts_uuid")),
        sa.UniqueConstraint("account_id", "msisdn", name=op.f("uq_contacts_account_id_msisdn")),
    )
    op.create_table(
        "contact_groups",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("headers", sa.Text(), server_default="[]", nullable=False),
        sa.Column("created_at", When, nullable=False),
        _fk("contact_groups", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_groups")),
        sa.UniqueConstraint("uuid", name=op.f("uq_contact_groups_uuid")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_contact_groups_account_id_name")),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        _fk("group_members", "group_id", "contact_groups", "CASCADE"),
        _fk("group_members", "contact_id", "contacts", "CASCADE"),
        _fk("group_members", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("group_id", "contact_id", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_contact_id", "group_members", ["contact_id"])
    op.create_table(
        "contact_uploads",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("group_id", Id, nullable=True),
        sa.Column("filename", sa.String(length=255), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("node", sa.String(length=64), server_default="", nullable=False),
        sa.Column(
            "remove_duplicates", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.String(length=255), server_default="", nullable=False),
        sa.Column("rows_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("accepted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("finished_at", When, nullable=True),
        sa.CheckConstraint("kind IN ('csv', 'xlsx')", name=op.f("ck_contact_uploads_kind")),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'completed', 'failed')",
            name=op.f("ck_contact_uploads_status"),
        ),
        _fk("contact_uploads", "account_id", "accounts"),
        _fk("contact_uploads", "group_id", "contact_groups", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_uploads")),
        sa.UniqueConstraint("uuid", name=op.f("uq_contact_uploads_uuid")),
    )
    op.create_index("ix_contact_uploads_account_id_id", "contact_uploads", ["account_id", "id"])
    op.create_table(
        "contact_upload_errors",
        sa.Column("id", Id, nullable=False),
        sa.Column("upload_id", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        _fk("contact_upload_errors", "upload_id", "contact_uploads", "CASCADE"),
        _fk("contact_upload_errors", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_upload_errors")),
    )
    op.create_index(
        "ix_contact_upload_errors_upload_id_line", "contact_upload_errors", ["upload_id", "line"]
    )
    op.create_table(
        "templates",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("group_id", Id, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        _fk("templates", "account_id", "accounts"),
        _fk("templates", "group_id", "contact_groups", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("uuid", name=op.f("uq_templates_uuid")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_templates_account_id_name")),
    )
    op.create_table(
        "suppressions",
        sa.Column("account_id", Id, nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint(
            "source IN ('mo', 'api', 'import')", name=op.f("ck_suppressions_source")
        ),
        _fk("suppressions", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", "msisdn", name=op.f("pk_suppressions")),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_table("templates")
    op.drop_index("ix_contact_upload_errors_upload_id_line", table_name="contact_upload_errors")
    op.drop_table("contact_upload_errors")
    op.drop_index("ix_contact_uploads_account_id_id", table_name="contact_uploads")
    op.drop_table("contact_uploads")
    op.drop_index("ix_group_members_contact_id", table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("contact_groups")
    op.drop_table("contacts")
