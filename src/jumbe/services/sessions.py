"""Signing in: an email and password for a short-lived JWT, and the member behind one.

The Mobile Sasa document has JWTs "issued at login and intended for the
dashboard UI", accepted where it says "or a JWT session" (managing API
tokens). A session names its user and is checked against the database on
every request: a removed member, a changed role, a new password (every
session issued before it) or a suspended account take effect at once,
although a JWT is signed to be valid for its whole lifetime.

Failed sign-ins go through the throttle like every other failed
authentication, counted per client address and per email. A wrong email
costs as long as a wrong password (``Passwords.sign_in``), and an unverified
user learns so only after giving the right password, so neither the answer
nor its timing tells which emails have an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.engine import Row

from jumbe.services.errors import EmailNotVerified, Forbidden, Unauthenticated
from jumbe.services.passwords import Passwords
from jumbe.services.roles import ROLE_PERMISSIONS, grantable_scopes
from jumbe.services.signed_tokens import IssuedSession, SessionTokens
from jumbe.services.signing_keys import SigningKeys
from jumbe.services.throttle import Attempt
from jumbe.services.tokens import Caller
from jumbe.store.database import Database
from jumbe.store.schema import accounts, users

JWT_SHAPE_DOTS = 2


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: IssuedSession
    me: Me


@dataclass(frozen=True, slots=True)
class Me:
    """The member behind a session, as they may see themselves."""

    uuid: str
    email: str
    name: str
    role: str
    permissions: tuple[str, ...]
    account_name: str
    team_code: str


def looks_like_session(raw: str) -> bool:
    """A JWT (three dot-separated parts), not an API token (``jmb_…``)."""
    return raw.count(".") == JWT_SHAPE_DOTS and raw.startswith("eyJ")


class SessionService:
    def __init__(
        self, db: Database, passwords: Passwords, keys: SigningKeys, *, lifetime: timedelta
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.throttle = passwords.throttle
        self.tokens = SessionTokens(keys, audience="customer", lifetime=lifetime)

    async def login(self, email: str, password: str, *, client: str) -> SignedIn:
        """A session for a verified user of an active account with this email and password."""
        if not email or not password:
            raise Unauthenticated("email and password are required")
        email = email.strip().lower()
        attempt = Attempt.of(client, "login", email)
        query = _me().where(users.c.email == email)
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        held = row.password_hash if row is not None else None
        if row is None or not await self.passwords.sign_in(held, password, attempt):
            raise self.throttle.failed(attempt, Unauthenticated("wrong email or password"))
        _may_sign_in(row)
        session = await self.tokens.issue(row.id, row.session_generation)
        return SignedIn(session, _as_me(row))

    async def authenticate(self, raw: str) -> Caller:
        """The member behind a session, with the scopes their role may use now."""
        row = await self._current(raw)
        return Caller(
            account_id=row.account_id,
            token_id=None,
            scopes=grantable_scopes(row.role),
            user_id=row.id,
            role=row.role,
        )

    async def me(self, raw: str) -> Me:
        return _as_me(await self._current(raw))

    async def _current(self, raw: str) -> Row[tuple[object, ...]]:
        claims = await self.tokens.read(raw)
        row = await self.db.read(
            lambda conn: conn.execute(_me().where(users.c.id == claims.subject)).one_or_none()
        )
        if row is None or row.session_generation != claims.generation or row.password_hash is None:
            raise Unauthenticated("session has ended: sign in again")
        _may_sign_in(row)
        return row


def _me() -> Select[Any]:
    return select(
        users.c.id,
        users.c.uuid,
        users.c.account_id,
        users.c.email,
        users.c.name,
        users.c.role,
        users.c.password_hash,
        users.c.email_verified_at,
        users.c.session_generation,
        accounts.c.name.label("account_name"),
        accounts.c.team_code,
        accounts.c.status.label("account_status"),
    ).join(accounts, accounts.c.id == users.c.account_id)


def _may_sign_in(row: Row[tuple[object, ...]]) -> None:
    if row.email_verified_at is None:
        raise EmailNotVerified(
            f"verify your email first: open the link we mailed to {row.email}, or ask for a new one"
        )
    if row.account_status != "active":
        raise Forbidden("account is suspended")


def _as_me(row: Row[tuple[object, ...]]) -> Me:
    return Me(
        uuid=str(row.uuid),
        email=str(row.email),
        name=str(row.name or ""),
        role=str(row.role),
        permissions=tuple(sorted(ROLE_PERMISSIONS[str(row.role)])),
        account_name=str(row.account_name),
        team_code=str(row.team_code),
    )
