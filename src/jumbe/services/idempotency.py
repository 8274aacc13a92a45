"""Idempotency-Key: a repeated request gets the first answer and sends nothing more.

A key belongs to the account that used it, for ``KEY_TTL``. The row is written in
the transaction that stores the message (``messaging``'s accept), so two requests
with one key can never both send: the second one's insert violates the key's
primary key and its transaction (message and debit with it) rolls back. The face
then records the answer it gave; repeats get that answer back, waiting briefly
for it while the first request is still answering. A request refused before any
message was stored leaves no row, so a retry after fixing the cause is tried
afresh. The same key with another request (a different fingerprint: method,
path and body) is refused with Conflict.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.errors import Conflict, InvalidRequest
from jumbe.store.database import Database
from jumbe.store.schema import idempotency_keys, messages

KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
ANSWER_WAIT = 10.0  # seconds a repeat waits for the first request's answer


class KeyReused(Conflict):
    """The key came with another request than the first time."""

    code = "idempotency_key_reused"


class DuplicateKey(Conflict):
    """Raised by the accept when another request with the key stored its message first."""

    code = "idempotency_key_in_use"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """What a send carries so its transaction claims the key."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Replay:
    """What the first request with a key did: its message, and its answer once recorded."""

    message_uuid: str
    status: int | None
    body: bytes | None


def key_for(raw: str | None, method: str, path: str, body: bytes) -> IdempotencyKey | None:
    """The key a request brings (None without the header); InvalidRequest if unusable."""
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    digest = hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()
    return IdempotencyKey(key, digest)


def claim(
    conn: Connection, account_id: int, key: IdempotencyKey, message_id: int, now: datetime
) -> None:
    """Write the key with its message, in the message's own transaction."""
    conn.execute(
        idempotency_keys.insert().values(
            account_id=account_id,
            key=key.key,
            fingerprint=key.fingerprint,
            message_id=message_id,
            created_at=now,
        )
    )


class IdempotencyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def replay(self, account_id: int, key: IdempotencyKey) -> Replay | None:
        """The first request's outcome, if the key was used in the last 24 hours.

        KeyReused if it came with another request. An expired row is removed here,
        so the key can be used afresh even before the sweeper gets to it.
        """
        now = utcnow()
        mine = (idempotency_keys.c.account_id == account_id) & (idempotency_keys.c.key == key.key)
        query = (
            select(
                idempotency_keys.c.fingerprint,
                idempotency_keys.c.created_at,
                idempotency_keys.c.response_status,
                idempotency_keys.c.response_body,
                messages.c.uuid,
            )
            .join(messages, messages.c.id == idempotency_keys.c.message_id)
            .where(mine)
        )
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None:
            return None
        if row.created_at <= now - KEY_TTL:
            expired = mine & (idempotency_keys.c.created_at <= now - KEY_TTL)
            await self.db.write(lambda conn: conn.execute(delete(idempotency_keys).where(expired)))
            return None
        if row.fingerprint != key.fingerprint:
            raise KeyReused("this Idempotency-Key was used with a different request; use a new key")
        body = row.response_body
        return Replay(row.uuid, row.response_status, body.encode() if body is not None else None)

    async def first_answer(self, account_id: int, key: IdempotencyKey) -> Replay:
        """The answer of the request that won the key, waiting a while for it to be recorded.

        If the winner never records it (its process died after the commit), the
        Replay comes without a body and the face answers from the message itself.
        """
        deadline = time.monotonic() + ANSWER_WAIT
        while True:
            found = await self.replay(account_id, key)
            if found is None:  # the winner's row expired meanwhile: vanishingly rare
                raise Conflict("a request with this Idempotency-Key is still being answered")
            if found.body is not None or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(0.05)

    async def remember(
        self, account_id: int, key: IdempotencyKey, status: int, body: bytes
    ) -> None:
        """The answer given to the request that stored the key's message."""
        await self.db.write(
            lambda conn: conn.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.account_id == account_id,
                    idempotency_keys.c.key == key.key,
                )
                .values(response_status=status, response_body=body.decode())
            )
        )

    async def prune(self) -> int:
        """Forget keys older than 24 hours (the sweeper's job)."""
        before = utcnow() - KEY_TTL
        return await self.db.write(
            lambda conn: (
                conn.execute(
                    delete(idempotency_keys).where(idempotency_keys.c.created_at < before)
                ).rowcount
            )
        )
