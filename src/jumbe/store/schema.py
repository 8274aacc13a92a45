"""The database schema, as SQLAlchemy Core tables.

Core rather than ORM classes: the hot path (accept, dispatch, receipts) runs
batched statements, and services map rows to the faces' views themselves.
Alembic migrations in ``store/migrations`` create exactly these tables; a test
checks that the migrated database and this metadata agree.

Times are stored as UTC. Money-like quantities (units) are integers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(120), nullable=False),
    Column("team_code", String(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("webhook_secret", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # SMPP server limits for this account; NULL means the platform default
    Column("smpp_max_sessions", Integer),
    Column("smpp_tps", Float),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("username", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("display_prefix", String(16), nullable=False),
    Column("scopes", String(255), nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)

wallets = Table(
    "wallets",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
)

# Append-only: rows are inserted, never updated or deleted. The wallet balance
# is a cache of SUM(units) kept in the same transaction as each insert.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", String(255), nullable=False),
    Column("message_count", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('credit', 'debit', 'refund', 'adjustment')", name="kind"),
    Index("ix_ledger_entries_account_id_id", "account_id", "id"),
)

sender_ids = Table(
    "sender_ids",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("name", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="approved"),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "name"),
    CheckConstraint("kind IN ('alphanumeric', 'short_code', 'long_number')", name="kind"),
)

# Numbers and short codes whose inbound (MO) traffic belongs to an account.
account_numbers = Table(
    "account_numbers",
    metadata,
    Column("number", String(20), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

carrier_prefixes = Table(
    "carrier_prefixes",
    metadata,
    Column("prefix", String(15), primary_key=True),
    Column("carrier", String(40), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id")),  # NULL only for unrouted MO
    Column("direction", String(2), nullable=False),
    Column("source", String(16), nullable=False),  # the face it came through: rest, smpp, ...
    Column("sender", String(21), nullable=False),
    Column("recipient", String(21), nullable=False),  # international digits, no '+'
    Column("carrier", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("parts", Integer, nullable=False),
    Column("units", Integer, nullable=False),
    Column("concat_ref", Integer, nullable=False, server_default="0"),
    # SMPP semantics: 0 no receipt to the sender, 1 every final outcome, 2 failures only
    Column("registered_delivery", Integer, nullable=False, server_default="0"),
    Column("udh", String(64)),  # hex: a sender-headed segment's own UDH, sent verbatim
    Column("status", String(12), nullable=False),
    Column("status_at", UTCDateTime, nullable=False),
    Column("status_detail", String(255), nullable=False, server_default=""),
    Column("error_code", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    Column("callback_url", Text),
    Column("client_ref", String(64)),
    Column("resent_from", BigInteger),
    Column("ledger_entry_id", ForeignKey("ledger_entries.id")),  # the debit that paid for it
    Column("refund_entry_id", ForeignKey("ledger_entries.id")),  # set when it never left us
    CheckConstraint("direction IN ('mt', 'mo')", name="direction"),
    CheckConstraint(
        "status IN ('accepted', 'sent', 'delivered', 'failed', 'expired', 'cancelled', 'received')",
        name="status",
    ),
    Index("ix_messages_account_id_id", "account_id", "id"),
    Index("ix_messages_account_id_recipient_id", "account_id", "recipient", "id"),
    Index("ix_messages_account_id_status_id", "account_id", "status", "id"),
    # The dispatcher's queue: only accepted messages are indexed, so the index
    # stays as small as the backlog however large the history grows.
    Index(
        "ix_messages_queue",
        "next_attempt_at",
        sqlite_where=text("status = 'accepted'"),
        postgresql_where=text("status = 'accepted'"),
    ),
    # Sent messages waiting for a receipt, for the expiry sweep.
    Index(
        "ix_messages_awaiting_receipt",
        "valid_until",
        sqlite_where=text("status = 'sent'"),
        postgresql_where=text("status = 'sent'"),
    ),
)

# One row per segment handed to a carrier: the carrier's id for receipt matching.
message_parts = Table(
    "message_parts",
    metadata,
    Column("message_id", ForeignKey("messages.id"), primary_key=True),
    Column("part_no", Integer, primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("carrier_message_id", String(65), nullable=False),
    Column("status", String(12)),  # final status from the receipt; NULL until then
    Column("error_code", String(16)),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index("ix_message_parts_connector_carrier_message_id", "connector", "carrier_message_id"),
)

# The status history after acceptance (acceptance itself is the message row).
message_events = Table(
    "message_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", ForeignKey("messages.id"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("description", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_message_events_message_id_id", "message_id", "id"),
)

# Segments of a long inbound message, kept until the last one arrives, so that a
# segment acknowledged to the carrier survives a crash before reassembly.
inbound_fragments = Table(
    "inbound_fragments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("sender", String(21), nullable=False),
    Column("recipient", String(21), nullable=False),
    Column("reference", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),
    # raw octets: a character may straddle two segments, so decode only the whole
    Column("payload", LargeBinary, nullable=False),
    Column("data_coding", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("connector", "sender", "recipient", "reference", "sequence"),
)

# Webhook outbox: written in the transaction that changes a status, delivered
# by a worker, so a slow receiver never holds up the pipeline.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("message_id", ForeignKey("messages.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

# Receipts and MO messages owed to an account's SMPP receivers: written with the
# status change or the MO, delivered when a receiver is bound, until they expire.
smpp_outbox = Table(
    "smpp_outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("message_id", ForeignKey("messages.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('receipt', 'mo')", name="kind"),
    Index(
        "ix_smpp_outbox_due",
        "account_id",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)
