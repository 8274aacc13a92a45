"""API tokens: who is calling through the REST API (and SMPP binds), with which scopes.

API tokens are long random strings, so a fast SHA-256 is the right hash for
them (lookup by hash, no salt needed); the raw value exists only in the
answer that shows it once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from jumbe.services.throttle import Attempt, AuthThrottle
from jumbe.store.database import Database
from jumbe.store.schema import accounts, api_tokens

SCOPES = (
    "messages",
    "contacts",
    "groups",
    "campaigns",
    "surveys",
    "ussd",
    "reports",
    "api_tokens",
    "sims",
)
TOKEN_PREFIX = "jmb_"
DISPLAY_PREFIX_LENGTH = 10  # "jmb_" and six random characters: shown in lists, not secret
# How long a token found valid is believed without asking the database again: on a
# cluster, how long a token revoked on one node still works on another
# (JUMBE_TOKEN_CACHE_SECONDS; 0 asks every time).
TOKEN_CACHE_SECONDS = 1.0
TOKEN_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling for an account: an API token with its scopes, or a signed-in member.

    A member's session (``sessions``) has no scopes of its own: it holds the
    scopes its role may use (``roles.grantable_scopes``), read afresh on every
    request, so the same checks serve both.
    """

    account_id: int
    token_id: int | None  # None for a member's session
    scopes: frozenset[str]
    user_id: int | None = None
    role: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def lacks(self, scope: str) -> str:
        """Why this caller may not use ``scope``, in a sentence for a 403."""
        if self.role is not None:
            return f"Forbidden: the {self.role} role may not use the '{scope}' scope"
        return f"Forbidden: this token lacks the '{scope}' scope"

    def cannot_grant(self, scopes: Iterable[str]) -> list[str]:
        """The scopes among ``scopes`` this caller may not put on a new token.

        A token grants only what it holds itself, so a token made to manage
        tokens cannot mint one that reads messages. A member signed in grants
        what their role may use: an owner or admin any scope, a member all but
        the ones an admin keeps (``roles.SCOPE_PERMISSION``), a viewer none,
        since a viewer may not manage tokens at all.
        """
        return sorted(set(scopes) - self.scopes)

    def refusal_to_grant(self, beyond: list[str]) -> str:
        if self.role is not None:
            return f"Forbidden: the {self.role} role may not grant {', '.join(beyond)}"
        return (
            "Forbidden: a token can only grant scopes it holds itself;"
            f" this one lacks {', '.join(beyond)}"
        )


@dataclass(frozen=True, slots=True)
class TokenView:
    uuid: str
    name: str
    scopes: tuple[str, ...]
    display_prefix: str
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


class TokenService:
    def __init__(
        self, db: Database, throttle: AuthThrottle, *, cache_seconds: float = TOKEN_CACHE_SECONDS
    ) -> None:
        self.db = db
        self.throttle = throttle
        self.cache_seconds = cache_seconds
        # Tokens found valid in the last second: checking one was a third of the cost
        # of a REST send. digest -> (caller, expires_at, when checked)
        self._valid_tokens: dict[str, tuple[Caller, datetime | None, float]] = {}

    async def authenticate_token(self, raw: str | None, *, client: str) -> Caller:
        """The caller behind a raw token; Unauthenticated for anything not currently valid.

        A valid token passes whatever the throttle counts; a wrong one is counted
        (by ``client`` and by its display prefix) and answered 429 past a limit.
        A request with no token at all is not a guess and is not counted.
        """
        if not raw:
            raise Unauthenticated("Missing API token: send Authorization: Bearer <token>")
        try:
            return await self.lookup(raw)
        except Unauthenticated as exc:
            attempt = Attempt.of(client, "token", raw[:DISPLAY_PREFIX_LENGTH])
            raise self.throttle.failed(attempt, exc) from None

    async def lookup(self, raw: str) -> Caller:
        """The caller behind a raw token, uncounted; Unauthenticated (with why) otherwise."""
        now = utcnow()
        digest = hash_token(raw)
        cached = self._valid_tokens.get(digest)
        if cached is not None:
            caller, expires_at, checked = cached
            if time.monotonic() - checked < self.cache_seconds and (
                expires_at is None or expires_at > now
            ):
                return caller
            del self._valid_tokens[digest]
        query = (
            select(
                api_tokens.c.id,
                api_tokens.c.account_id,
                api_tokens.c.scopes,
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
                accounts.c.status,
            )
            .join(accounts, accounts.c.id == api_tokens.c.account_id)
            .where(api_tokens.c.token_hash == digest)
        )
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        reason = None
        if row is None:
            reason = "Invalid API token"
        elif row.revoked_at is not None:
            reason = "API token has been revoked"
        elif row.expires_at is not None and row.expires_at <= now:
            reason = "API token has expired"
        elif row.status != "active":
            reason = "account is suspended"
        if reason is not None or row is None:
            raise Unauthenticated(reason or "Invalid API token")
        caller = Caller(
            account_id=row.account_id,
            token_id=row.id,
            scopes=frozenset(row.scopes.split(",")),
        )
        if len(self._valid_tokens) > TOKEN_CACHE_SIZE:
            self._valid_tokens.clear()
        self._valid_tokens[digest] = (caller, row.expires_at, time.monotonic())
        return caller

    async def create_token(
        self,
        grantor: Caller,
        name: str,
        scopes: list[str],
        expires_at: datetime | None = None,
    ) -> tuple[str, TokenView]:
        """A new token of the grantor's account, holding no scope the grantor lacks."""
        name = name.strip()
        if not name or len(name) > 120:
            raise InvalidRequest("token name must be 1 to 120 characters")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise InvalidRequest(
                f"scopes must be a non-empty list of {', '.join(SCOPES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        beyond = grantor.cannot_grant(scopes)
        if beyond:
            raise Forbidden(grantor.refusal_to_grant(beyond))
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise InvalidRequest("expires_at must be in the future")
        raw = new_token()
        account_id = grantor.account_id
        ordered = tuple(s for s in SCOPES if s in scopes)
        token_uuid = await self.db.write(
            lambda conn: insert_token(conn, account_id, name, ordered, expires_at, raw, now)
        )
        return raw, TokenView(
            uuid=token_uuid,
            name=name,
            scopes=ordered,
            display_prefix=raw[:DISPLAY_PREFIX_LENGTH],
            expires_at=expires_at,
            revoked_at=None,
            created_at=now,
        )

    async def list_tokens(self, account_id: int) -> list[TokenView]:
        query = (
            select(api_tokens)
            .where(api_tokens.c.account_id == account_id)
            .order_by(api_tokens.c.id.desc())
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [
            TokenView(
                uuid=r.uuid,
                name=r.name,
                scopes=tuple(r.scopes.split(",")),
                display_prefix=r.display_prefix,
                expires_at=r.expires_at,
                revoked_at=r.revoked_at,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def revoke_token(self, account_id: int, token_uuid: str) -> None:
        revoked = await self.db.write(
            lambda conn: conn.execute(
                update(api_tokens)
                .where(api_tokens.c.account_id == account_id, api_tokens.c.uuid == token_uuid)
                .values(revoked_at=func.coalesce(api_tokens.c.revoked_at, utcnow()))
                .returning(api_tokens.c.id)
            ).scalar_one_or_none()
        )
        if revoked is None:
            raise NotFound("token not found")
        # effective at once on this node; other nodes drop it within cache_seconds
        self._valid_tokens = {
            digest: entry
            for digest, entry in self._valid_tokens.items()
            if entry[0].token_id != revoked
        }


def insert_token(
    conn: Connection,
    account_id: int,
    name: str,
    scopes: tuple[str, ...],
    expires_at: datetime | None,
    raw: str,
    now: datetime,
) -> str:
    """A token row in the caller's transaction; its uuid."""
    token_uuid = str(uuid.uuid4())
    conn.execute(
        insert(api_tokens).values(
            uuid=token_uuid,
            account_id=account_id,
            name=name,
            token_hash=hash_token(raw),
            display_prefix=raw[:DISPLAY_PREFIX_LENGTH],
            scopes=",".join(scopes),
            expires_at=expires_at,
            created_at=now,
        )
    )
    return token_uuid
