"""The database schema, as SQLAlchemy Core tables.

Core rather than ORM classes: the hot path (accept, dispatch, receipts) runs
batched statements, and services map rows to the faces' views themselves.
Alembic migrations in ``store/migrations`` create exactly these tables; a test
checks that the migrated database and this metadata agree.

Times are stored as UTC. Money-like quantities are integers: SMS units, and
KES in cents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
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
from sqlalchemy.dialects import sqlite as sqlite_dialect
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


class _SqliteDateTimeText(sqlite_dialect.DATETIME):
    """SQLite DATETIME in the DDL, with the conversions left to UTCDateTime."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which stores text) and PostgreSQL.

    On SQLite the text is SQLAlchemy's own DATETIME format ("2026-11-24
    17:27:42.616000"), but written with ``isoformat`` and read with
    ``fromisoformat``, both in C: the generic processors (a format string in,
    a regular expression out) were the largest Python cost per row on the hot
    path. Fixed width and UTC, so text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True
    # rows written together share their instants (one "now" per batch): the last
    # conversion is kept, as one tuple so that a reader never sees half of it
    _last: tuple[datetime | None, str | None] = (None, None)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTimeText())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        if dialect.name == "sqlite":
            last, text = self._last
            if value is last:
                return text
            text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            self._last = (value, text)
            return text
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        stored = cast(datetime, value)
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(120), nullable=False),
    # the name folded for comparison (see services.accounts.name_key): names are unique
    # without regard to case or spacing; NULL only for duplicates made before 0009
    Column("name_key", String(255)),
    Column("team_code", String(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("webhook_secret", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # the account number of the Safaricom IoT faces, e.g. 1-225560081663_VPN
    Column("vpn_group", String(32), nullable=False, unique=True),
    # SMPP server limits for this account; NULL means the platform default
    Column("smpp_max_sessions", Integer),
    Column("smpp_tps", Float),
    # argon2 hash of the account's 8-character SMPP bind password; NULL: none issued
    Column("smpp_password_hash", String(255)),
    # how many SIMs the account has had: the next SIM's position
    Column("sim_count", BigInteger, nullable=False, server_default="0"),
    # the team's default sender name, resolved for each recipient's carrier; NULL: none
    Column("default_sender", String(16)),
    # how a message is priced in units (core.pricing): per segment, or the Kimisms table
    Column("pricing", String(16), nullable=False, server_default="segments"),
    Index("ux_accounts_name_key", "name_key", unique=True),
    CheckConstraint("pricing IN ('segments', 'kimisms')", name="pricing"),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("username", String(254), nullable=False, unique=True),
    # NULL for an invited team member until the invitation is accepted
    Column("password_hash", String(255)),
    Column("role", String(16), nullable=False),
    # what the user may do on the account's SIMs, comma-separated (view, activate, ...)
    Column("permissions", String(255), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    # people who sign in (registered owners, invited members): the other users
    # (the M2M API's, those made by `jumbe users add`) have no email
    Column("uuid", String(36), nullable=False, unique=True),
    Column("email", String(254), unique=True),  # lower-cased: the sign-in name
    Column("name", String(120)),
    Column("phone", String(20)),
    Column("email_verified_at", UTCDateTime),
    # sessions (JWTs) carry the generation they were issued in; a new password
    # moves it on, so every session issued before is refused
    Column("session_generation", Integer, nullable=False, server_default="0"),
    CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
)

# The operator's own people: they see every account and review what customers
# apply for. Kept apart from ``users`` so that no customer (nor a customer's
# owner) can ever be taken for staff.
staff = Table(
    "staff",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(120), nullable=False, server_default=""),
    Column("password_hash", String(255)),  # NULL until the set-password link is used
    Column("status", String(16), nullable=False, server_default="active"),
    Column("session_generation", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'disabled')", name="status"),
)

# Secrets shared by every node of a cluster (the key sessions and mailed links
# are signed with), created by whichever node needs one first.
platform_secrets = Table(
    "platform_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The nodes of a cluster on one database: each writes its heartbeat every few
# seconds (JUMBE_NODE_HEARTBEAT); one silent for JUMBE_NODE_DEAD_AFTER is dead, and
# the live nodes take over its leases (messages, callbacks) at once instead of
# waiting for each lease to run out.
nodes = Table(
    "nodes",
    metadata,
    Column("node_id", String(128), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

# A carrier's bind slots (a connector's `binds`), each held by at most one node: a
# node binds only on slots that name it and gives a slot up only once its bind is
# closed, so the nodes together never exceed the carrier's bind limit; each sends
# at its share of the TPS (k of n slots: k/n).
bind_slots = Table(
    "bind_slots",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("node_id", String(128), nullable=True),
)

# Customers' SMPP sessions bound on any node, so an account's session limit holds
# across the cluster; a dead node's rows go with it (store/nodes.release_all).
smpp_sessions = Table(
    "smpp_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("node_id", String(128), nullable=False, index=True),
    Column("bound_at", UTCDateTime, nullable=False),
)

# Mail to people (verification, password reset, invitations). Without SMTP it
# stays here as the local outbox (`jumbe mail list`); with SMTP a worker sends
# it, retrying while the server is down, and then drops the body (it holds a
# live link).
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("to_address", String(254), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    CheckConstraint("status IN ('local', 'pending', 'sent', 'failed')", name="status"),
    Index(
        "ix_mail_outbox_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
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

# A wallet is (account, asset, sender registration or none): the team's wallet of each
# asset (sender_id NULL: SMS units, and KES in cents for priced services), and a sender
# ID's own float of units (Kimisms), which exists once it has been topped up. A send
# draws from its sender's float when it has one, else from the team wallet
# (services.messaging); ``balance`` is a cache of the wallet's ledger lines.
wallets = Table(
    "wallets",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("asset", String(8), nullable=False, server_default="units"),
    Column("sender_id", ForeignKey("sender_ids.id")),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    CheckConstraint("asset IN ('units', 'KES')", name="asset"),
    CheckConstraint("sender_id IS NULL OR asset = 'units'", name="float_in_units"),
    UniqueConstraint("account_id", "asset", "sender_id"),  # a sender's float: one
    Index(  # the team's wallet of an asset: one (NULLs are distinct to the constraint above)
        "ux_wallets_account_id_asset",
        "account_id",
        "asset",
        unique=True,
        sqlite_where=text("sender_id IS NULL"),
        postgresql_where=text("sender_id IS NULL"),
    ),
)

# Append-only: rows are inserted, never updated or deleted. The wallet balance
# is a cache of SUM(units) per asset kept in the same transaction as each insert.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("asset", String(8), nullable=False, server_default="units"),
    Column("units", BigInteger, nullable=False),  # the amount, in the asset's smallest unit
    Column("kind", String(16), nullable=False),
    Column("description", String(255), nullable=False),
    Column("message_count", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    # the wallet it moved: a sender's float, or NULL for the team's wallet of the asset
    Column("sender_id", ForeignKey("sender_ids.id")),
    CheckConstraint("kind IN ('credit', 'debit', 'refund', 'adjustment', 'charge')", name="kind"),
    Index("ix_ledger_entries_account_id_id", "account_id", "id"),
)

# Sender registrations: a name (alphanumeric, at most 11 characters) or a short code
# approved for an account on one carrier, with a campaign type. The same name may be
# registered on several carriers (one row each). ``carrier`` '*' is every carrier:
# what senders from before registrations became (migration 0012), and what the
# operator may still grant directly. Sends resolve a name for the recipient's carrier
# (services.senders). The uuid is the sender's stable id (REST sender_id, floats).
sender_ids = Table(
    "sender_ids",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("name", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="approved"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("carrier", String(40), nullable=False, server_default="*"),
    Column("campaign_type", String(16), nullable=False, server_default="TRANSACTIONAL"),
    # the application it was approved from; NULL when the operator made it directly
    Column("application_id", ForeignKey("sender_applications.id")),
    UniqueConstraint("account_id", "name", "carrier"),
    CheckConstraint("kind IN ('alphanumeric', 'short_code', 'long_number')", name="kind"),
    CheckConstraint("campaign_type IN ('PROMOTIONAL', 'TRANSACTIONAL')", name="campaign_type"),
)

# A customer's application for a sender on one carrier, with its KYC documents:
# PENDING -> PROVIDER (sent to the carrier) -> APPROVED | REJECTED (with a reason).
sender_applications = Table(
    "sender_applications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("carrier", String(40), nullable=False),
    Column("campaign_type", String(16), nullable=False),
    Column("organisation", String(120), nullable=False),
    Column("purpose", String(500), nullable=False, server_default=""),
    Column("status", String(12), nullable=False),
    Column("reason", String(500)),
    Column("applied_by", ForeignKey("users.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('alphanumeric', 'short_code')", name="kind"),
    CheckConstraint("status IN ('PENDING', 'PROVIDER', 'APPROVED', 'REJECTED')", name="status"),
    CheckConstraint("campaign_type IN ('PROMOTIONAL', 'TRANSACTIONAL')", name="campaign_type"),
)

# Every state an application entered, by whom (a member, staff, the operator's CLI).
sender_application_events = Table(
    "sender_application_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("application_id", ForeignKey("sender_applications.id"), nullable=False, index=True),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("reason", String(500)),
    Column("actor_kind", String(8), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("actor_kind IN ('member', 'staff', 'operator')", name="actor_kind"),
)

# KYC documents of an application. The file lives under the data dir (``path`` is
# relative to it), outside anything served; only its account and staff read it.
sender_documents = Table(
    "sender_documents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("application_id", ForeignKey("sender_applications.id"), nullable=False, index=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("path", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('business_registration', 'authorisation_letter')", name="kind"),
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
    # The state machine is linear, so these and the status give its whole history:
    # accepted (created_at), sent (sent_at, via a connector), final (status_at).
    Column("sent_at", UTCDateTime),
    Column("sent_via", String(64)),
    Column("valid_until", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    Column("callback_url", Text),
    Column("client_ref", String(64)),
    Column("resent_from", BigInteger),
    # An IoT SIM's messages, both ways, carry it; the SIM portal hides ("deletes") its own view.
    Column("sim_id", ForeignKey("sims.id")),
    Column("portal_hidden_at", UTCDateTime),
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
    # A SIM's thread, and its messages not yet final (the operator's queue limit).
    Index("ix_messages_sim_id_id", "sim_id", "id"),
    Index(
        "ix_messages_sim_unfinished",
        "sim_id",
        sqlite_where=text("status IN ('accepted', 'sent')"),
        postgresql_where=text("status IN ('accepted', 'sent')"),
    ),
    # The SIM portal's lists: an account's device messages without its bulk traffic.
    Index(
        "ix_messages_device_account_id_id",
        "account_id",
        "id",
        sqlite_where=text("sim_id IS NOT NULL"),
        postgresql_where=text("sim_id IS NOT NULL"),
    ),
    # An M2M sms_uid is unique per account.
    Index(
        "ux_messages_m2m_account_id_client_ref",
        "account_id",
        "client_ref",
        unique=True,
        sqlite_where=text("source = 'm2m'"),
        postgresql_where=text("source = 'm2m'"),
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
# Receipts that came before the submit they answer was recorded (or for a carrier id
# no node knows yet): kept, not dropped, and applied when the submit is recorded.
unmatched_receipts = Table(
    "unmatched_receipts",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("carrier_message_id", String(65), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("error_code", String(16), nullable=False),
    Column("done_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False, index=True),
)

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
    # when to ask the carrier (query_sm) if no receipt has come; NULL: not to be asked
    Column("query_at", UTCDateTime),
    Index("ix_message_parts_connector_carrier_message_id", "connector", "carrier_message_id"),
    Index(
        "ix_message_parts_query_at",
        "query_at",
        sqlite_where=text("status IS NULL"),
        postgresql_where=text("status IS NULL"),
    ),
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
    Column("payload", Text, nullable=False),  # rendered by the face that took the message
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Due time; a claim moves it to the lease's end, so rows in flight are not due.
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivery_id", String(80)),  # unique per callback, the same on every retry
    Column("sequence", Integer),  # the status change's number in its message's life
    Column("lease_owner", String(64)),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # A message's pending callbacks, earliest first: they leave in that order.
    Index(
        "ix_notifications_message",
        "message_id",
        "id",
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
    # the node whose receivers hold the row, so its death releases it at once
    Column("lease_owner", String(128)),
    CheckConstraint("kind IN ('receipt', 'mo')", name="kind"),
    Index(
        "ix_smpp_outbox_due",
        "account_id",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

# OAuth client credentials (Daraja consumer key and secret); the secret only as a hash.
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("client_key", String(64), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # the face whose tokens it buys (daraja, kimisms): a client opens no other face
    Column("face", String(16), nullable=False, server_default="daraja"),
    Index("ix_oauth_clients_account_face", "account_id", "face"),
)

# Short-lived access tokens issued to OAuth clients, by hash.
oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("client_id", ForeignKey("oauth_clients.id"), nullable=False, index=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Idempotency-Key per account: the request's fingerprint, the message it made
# (written in that message's transaction, so a key never sends twice) and the
# first answer, which repeats get back; kept 24 hours.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("message_id", ForeignKey("messages.id")),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# The operator's tariffs (Safaricom calls them offerings).
products = Table(
    "products",
    metadata,
    Column("offering_id", String(32), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("status", String(16), nullable=False, server_default="Active"),
    Column("created_at", UTCDateTime, nullable=False),
)

# IoT SIMs. msisdn is the national IoT number (300000003036), shown with 254 in messages.
sims = Table(
    "sims",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("iccid", String(22), nullable=False, unique=True),
    Column("imsi", String(15), nullable=False, unique=True),
    Column("msisdn", String(15), nullable=False, unique=True),
    Column("asset_name", String(64)),
    Column("imei", String(16)),
    Column("sim_type", String(24), nullable=False, server_default="standard"),
    Column("product_id", ForeignKey("products.offering_id")),
    Column("status", String(12), nullable=False),
    Column("status_at", UTCDateTime, nullable=False),
    Column("activated_at", UTCDateTime),
    Column("activated_by", String(254)),
    Column("expiry_year", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    # 0, 1, 2, ... per account in arrival order: allsims' startAtIndex is an index seek
    Column("position", BigInteger, nullable=False),
    CheckConstraint(
        "status IN ('idle', 'pooled', 'active', 'suspended', 'terminated')", name="status"
    ),
    Index("ux_sims_account_id_position", "account_id", "position", unique=True),
)

# Every lifecycle change of a SIM (its arrival included: from_status NULL). ``day`` is
# the Kenyan calendar day (yyyymmdd) so that trends group by an indexed integer, the
# same way on SQLite and PostgreSQL.
sim_events = Table(
    "sim_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("sim_id", ForeignKey("sims.id"), nullable=False),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("day", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # covering: trends count distinct SIMs per (day, state) from the index alone
    Index(
        "ix_sim_events_account_id_day_to_status_sim_id", "account_id", "day", "to_status", "sim_id"
    ),
    Index("ix_sim_events_sim_id_id", "sim_id", "id"),
)

# The network's MSISDN registry behind the IMSI / SIM-swap check.
subscribers = Table(
    "subscribers",
    metadata,
    Column("msisdn", String(15), primary_key=True),  # international digits, 2547...
    Column("imsi", String(15), nullable=False),
    Column("registered_on", Date, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sim_swaps = Table(
    "sim_swaps",
    metadata,
    Column("id", Id, primary_key=True),
    Column("msisdn", ForeignKey("subscribers.msisdn"), nullable=False),
    Column("old_imsi", String(15), nullable=False),
    Column("new_imsi", String(15), nullable=False),
    Column("swapped_at", UTCDateTime, nullable=False),
    Index("ix_sim_swaps_msisdn_swapped_at", "msisdn", "swapped_at"),
)

# Every IMSI check a partner made, billed or not.
imsi_checks = Table(
    "imsi_checks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("msisdn", String(32), nullable=False),  # as asked, when it was not a valid number
    Column("outcome", String(16), nullable=False),
    Column("price", BigInteger, nullable=False, server_default="0"),  # KES cents
    Column("ledger_entry_id", ForeignKey("ledger_entries.id")),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("outcome IN ('found', 'not_found', 'invalid')", name="outcome"),
    Index("ix_imsi_checks_account_id_id", "account_id", "id"),
)

# What a unit costs, per carrier: the operator's staff set the rates; a top-up buys
# units of one package at its rate of the moment (kept on the top-up).
packages = Table(
    "packages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("carrier", String(40), nullable=False),
    Column("name", String(60), nullable=False),
    Column("rate_cents", BigInteger, nullable=False),  # KES cents per unit
    Column("min_units", BigInteger, nullable=False, server_default="1"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("carrier", "name"),
    CheckConstraint("rate_cents > 0", name="rate_positive"),
    CheckConstraint("min_units > 0", name="min_units_positive"),
)

# Buying units: PENDING until paid (M-Pesa) or approved (offline), then COMPLETED with
# the ledger credit that added the units, or FAILED. The credit and the move to
# completed are one transaction guarded by status = 'pending': it happens once.
topups = Table(
    "topups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    # the sender registration whose own float the units fill; NULL: the team wallet
    Column("sender_id", BigInteger),
    Column("package_id", ForeignKey("packages.id"), nullable=False),
    Column("carrier", String(40), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("rate_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),  # what the customer pays
    Column("method", String(8), nullable=False),
    Column("status", String(12), nullable=False),
    Column("status_detail", String(255), nullable=False, server_default=""),
    Column("requested_by", String(254), nullable=False),
    Column("phone", String(15)),  # the M-Pesa payer
    Column("reference", String(64)),  # the bank transfer's reference (offline)
    Column("merchant_request_id", String(64)),
    Column("checkout_request_id", String(64), unique=True),
    # sha256 of the secret in the callback URL this payment's callback must come to
    Column("callback_key_hash", String(64), unique=True),
    Column("mpesa_receipt", String(32), unique=True),
    Column("result_code", Integer),
    Column("reviewed_by", String(254)),  # the member of staff who approved or rejected
    Column("ledger_entry_id", ForeignKey("ledger_entries.id")),  # the credit, once completed
    Column("query_at", UTCDateTime),  # when to ask M-Pesa (stkpushquery) if no callback came
    Column("query_attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status_at", UTCDateTime, nullable=False),
    CheckConstraint("method IN ('mpesa', 'offline')", name="method"),
    CheckConstraint("status IN ('pending', 'completed', 'failed')", name="status"),
    CheckConstraint("units > 0 AND amount_cents > 0", name="positive"),
    Index("ix_topups_account_id_id", "account_id", "id"),
    Index(
        "ix_topups_query_at",
        "query_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

# Contacts: one per number in an account (normalised once, its carrier stored), with up
# to six custom fields under the header names of the file they came from (``fields``,
# a JSON object), as Kimisms' templates name them.
contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("msisdn", String(15), nullable=False),
    Column("carrier", String(40), nullable=False),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("notes", Text, nullable=False, server_default=""),
    Column("fields", Text, nullable=False, server_default="{}"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "msisdn"),
)

# Groups: name unique per team; ``headers`` (a JSON list) are the custom field names its
# contacts were imported with: a template of the group may use them as placeholders.
contact_groups = Table(
    "contact_groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("headers", Text, nullable=False, server_default="[]"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ForeignKey("contact_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Index("ix_group_members_contact_id", "contact_id"),
)

# An import of contacts from a file, processed in the background: its status and counts
# move with every batch written, in the batch's own transaction.
contact_uploads = Table(
    "contact_uploads",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("group_id", ForeignKey("contact_groups.id", ondelete="SET NULL")),
    Column("filename", String(255), nullable=False, server_default=""),
    Column("kind", String(8), nullable=False),
    # the node whose data directory holds the file: the one that resumes it after a stop
    Column("node", String(64), nullable=False, server_default=""),
    Column("remove_duplicates", Boolean, nullable=False, server_default=text("false")),
    Column("status", String(12), nullable=False),
    Column("detail", String(255), nullable=False, server_default=""),
    Column("rows_read", BigInteger, nullable=False, server_default="0"),
    Column("accepted", BigInteger, nullable=False, server_default="0"),
    Column("rejected", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    CheckConstraint("kind IN ('csv', 'xlsx')", name="kind"),
    CheckConstraint("status IN ('queued', 'processing', 'completed', 'failed')", name="status"),
    Index("ix_contact_uploads_account_id_id", "account_id", "id"),
)

contact_upload_errors = Table(
    "contact_upload_errors",
    metadata,
    Column("id", Id, primary_key=True),
    Column("upload_id", ForeignKey("contact_uploads.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("reason", String(255), nullable=False),
    Index("ix_contact_upload_errors_upload_id_line", "upload_id", "line"),
)

# Message templates: ``{header}`` placeholders checked against the group's headers.
templates = Table(
    "templates",
    metadata,
    Column("id", Id, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("group_id", ForeignKey("contact_groups.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "name"),
)

# Numbers that opted out (STOP) of an account's promotional traffic.
suppressions = Table(
    "suppressions",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("msisdn", String(15), primary_key=True),
    Column("source", String(8), nullable=False),  # mo, api, import
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("source IN ('mo', 'api', 'import')", name="source"),
)
