"""OAuth client credentials and the short-lived access tokens issued for them.

The Daraja faces and the Kimisms API authenticate this way: a client key and
secret (made with the account, the secret shown once and stored only as a
SHA-256 hash, as API tokens are) buy an access token that lives 3599 seconds on
Daraja and 900 on Kimisms. Tokens too are stored only by hash. Each client
belongs to one face, and one service instance serves one face, so a Kimisms
client cannot open the SIM portal nor a Daraja key send bulk SMS. Wrong secrets
and unknown tokens count toward the same throttle as every other credential
(see ``throttle``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.errors import Unauthenticated
from jumbe.services.throttle import Attempt, AuthThrottle
from jumbe.store.database import Database
from jumbe.store.schema import accounts, oauth_clients, oauth_tokens

ACCESS_TOKEN_TTL = timedelta(seconds=3599)
KIMISMS_TOKEN_TTL = timedelta(seconds=900)  # the Kimisms document's expires_in
DARAJA = "daraja"
KIMISMS = "kimisms"
_ALPHANUMERIC = string.ascii_letters + string.digits
ACCESS_KEY_LENGTH = 8  # of 28 characters: what failures of an access token are counted by


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    key: str
    secret: str


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int  # seconds


@dataclass(frozen=True, slots=True)
class OAuthCaller:
    """An account authenticated through an access token of one of its OAuth clients."""

    account_id: int
    client_id: int


def _random(length: int) -> str:
    """Letters and digits only, as Daraja's keys and tokens are, so they paste anywhere."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def insert_client(
    conn: Connection, account_id: int, now: datetime, face: str = DARAJA
) -> ClientCredentials:
    """New client credentials of ``face`` for the account, in the caller's transaction."""
    credentials = ClientCredentials(key=_random(48), secret=_random(64))
    conn.execute(
        insert(oauth_clients).values(
            account_id=account_id,
            client_key=credentials.key,
            secret_hash=_hash(credentials.secret),
            created_at=now,
            face=face,
        )
    )
    return credentials


class OAuthService:
    def __init__(
        self,
        db: Database,
        throttle: AuthThrottle,
        *,
        face: str = DARAJA,
        ttl: timedelta = ACCESS_TOKEN_TTL,
    ) -> None:
        self.db = db
        self.throttle = throttle
        self.face = face
        self.ttl = ttl

    async def regenerate(self, account_id: int) -> ClientCredentials:
        """New credentials for the account on this face; the old ones and their tokens die."""
        now = utcnow()

        def replace_client(conn: Connection) -> ClientCredentials:
            mine = (oauth_clients.c.account_id == account_id) & (oauth_clients.c.face == self.face)
            old = select(oauth_clients.c.id).where(mine).scalar_subquery()
            conn.execute(delete(oauth_tokens).where(oauth_tokens.c.client_id.in_(old)))
            conn.execute(
                update(oauth_clients)
                .where(mine, oauth_clients.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return insert_client(conn, account_id, now, self.face)

        return await self.db.write(replace_client)

    async def issue(self, key: str, secret: str, *, client: str) -> AccessToken:
        """An access token for valid client credentials; Unauthenticated otherwise."""
        query = (
            select(oauth_clients.c.id, oauth_clients.c.account_id, oauth_clients.c.secret_hash)
            .join(accounts, accounts.c.id == oauth_clients.c.account_id)
            .where(
                oauth_clients.c.client_key == key,
                oauth_clients.c.face == self.face,
                oauth_clients.c.revoked_at.is_(None),
                accounts.c.status == "active",
            )
        )
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            attempt = Attempt.of(client, "oauth", key)
            raise self.throttle.failed(attempt, Unauthenticated("Invalid Authentication passed"))
        raw = _random(28)
        now = utcnow()

        def store_token(conn: Connection) -> None:
            # a client that asks every hour would otherwise leave a trail of dead tokens
            conn.execute(
                delete(oauth_tokens).where(
                    oauth_tokens.c.client_id == row.id, oauth_tokens.c.expires_at <= now
                )
            )
            conn.execute(
                insert(oauth_tokens).values(
                    token_hash=_hash(raw),
                    client_id=row.id,
                    account_id=row.account_id,
                    expires_at=now + self.ttl,
                    created_at=now,
                )
            )

        await self.db.write(store_token)
        return AccessToken(raw, int(self.ttl.total_seconds()))

    async def authenticate(self, raw: str | None, *, client: str) -> OAuthCaller:
        """The caller behind a bearer access token; Unauthenticated if missing or not valid now."""
        if not raw:
            raise Unauthenticated("Invalid Access Token")
        query = (
            select(oauth_tokens.c.client_id, oauth_tokens.c.account_id, oauth_tokens.c.expires_at)
            .join(oauth_clients, oauth_clients.c.id == oauth_tokens.c.client_id)
            .join(accounts, accounts.c.id == oauth_tokens.c.account_id)
            .where(
                oauth_tokens.c.token_hash == _hash(raw),
                oauth_clients.c.face == self.face,
                oauth_clients.c.revoked_at.is_(None),
                accounts.c.status == "active",
            )
        )
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None or row.expires_at <= utcnow():
            attempt = Attempt.of(client, "access", raw[:ACCESS_KEY_LENGTH])
            raise self.throttle.failed(attempt, Unauthenticated("Invalid Access Token"))
        return OAuthCaller(account_id=row.account_id, client_id=row.client_id)
