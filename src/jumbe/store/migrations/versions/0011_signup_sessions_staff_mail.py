"""Sign-up and sign-in: people on users, staff, the cluster's signing secret, the mail outbox

``users`` gains what a person who signs in has: a uuid (how the team API names
a member), an email (the sign-in name, lower-cased, unique), a name, a phone,
when the email was verified, and the session generation that a new password
moves on. ``password_hash`` becomes nullable: an invited member has none until
the invitation is accepted. Existing users get a uuid and keep everything else
(no email: they go on signing in where they did, the M2M API and the SIM portal
payloads).

``staff`` holds the operator's own people, apart from any customer's users.
``platform_secrets`` holds the secret every node signs sessions and links with.
``mail_outbox`` holds mail: the local outbox without SMTP, the queue with it.

Revision ID: 0011
Revises: 0010
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=True)
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM users"))]
    if ids:
        conn.execute(
            sa.text("UPDATE users SET uuid = :uuid WHERE id = :id"),
            [{"uuid": str(uuid.uuid4()), "id": user_id} for user_id in ids],
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_uuid"), ["uuid"])
        batch_op.create_unique_constraint(batch_op.f("uq_users_email"), ["email"])

    op.create_table(
        "staff",
        sa.Column("id", Id, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), server_default="", nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("ck_staff_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
        sa.UniqueConstraint("uuid", name=op.f("uq_staff_uuid")),
    )
    op.create_table(
        "platform_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platform_secrets")),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", Id, nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('local', 'pending', 'sent', 'failed')", name=op.f("ck_mail_outbox_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index(
        "ix_mail_outbox_due",
        "mail_outbox",
        ["next_attempt_at"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("platform_secrets")
    op.drop_table("staff")
    op.execute("DELETE FROM users WHERE password_hash IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_users_uuid"), type_="unique")
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column("session_generation")
        batch_op.drop_column("email_verified_at")
        batch_op.drop_column("phone")
        batch_op.drop_column("name")
        batch_op.drop_column("email")
        batch_op.drop_column("uuid")
