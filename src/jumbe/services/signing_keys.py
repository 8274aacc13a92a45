"""The cluster's signing secret, and one key derived from it per use.

Sessions (JWTs) and mailed links are signed, not stored, so every node must
sign with the same secret: it lives in the database (``platform_secrets``),
drawn by whichever node needs it first; a per-node file would make a session
issued by one node fail on the next. Each use gets its own key derived with
HMAC-SHA256 (customer sessions, staff sessions, links), so a value signed for
one use never verifies for another, whatever its claims say.

Rotating the secret (deleting the row) ends every session and link at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from functools import partial

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jumbe.core.clock import utcnow
from jumbe.store.database import Database
from jumbe.store.schema import platform_secrets

SECRET_NAME = "signing_key"


class SigningKeys:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._secret: bytes | None = None
        self._loading = asyncio.Lock()

    async def key(self, purpose: str) -> bytes:
        """The 32-byte key for ``purpose`` (e.g. ``session:customer``)."""
        secret = self._secret or await self._load()
        return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()

    async def _load(self) -> bytes:
        async with self._loading:
            if self._secret is None:
                self._secret = (await shared_secret(self.db, SECRET_NAME)).encode()
            return self._secret


async def shared_secret(db: Database, name: str, initial: str | None = None) -> str:
    """The cluster's secret ``name``: the one stored, or else ``initial`` (or a fresh random
    one) stored now; when two nodes store one at the same moment, the first one wins."""
    try:
        return await db.write(partial(_read_or_store, name=name, initial=initial))
    except IntegrityError:  # another node stored it at the same moment
        found = await db.read(partial(_read, name=name))
        assert found is not None
        return found


def _read(conn: Connection, name: str) -> str | None:
    query = select(platform_secrets.c.value).where(platform_secrets.c.name == name)
    found: str | None = conn.execute(query).scalar_one_or_none()
    return found


def _read_or_store(conn: Connection, name: str, initial: str | None) -> str:
    found = _read(conn, name)
    if found is not None:
        return found
    value = initial or secrets.token_urlsafe(48)
    conn.execute(insert(platform_secrets).values(name=name, value=value, created_at=utcnow()))
    return value
