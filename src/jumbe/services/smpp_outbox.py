"""Receipts and MO messages owed to accounts' SMPP receivers.

Rows are written in the transaction that makes a message final (when its SMPP
sender asked for a receipt) or stores an MO; the SMPP server claims them for
accounts that have a receiver bound, and settles them once the ESME has
answered the deliver_sm. Nothing is dropped while no receiver is bound; rows
give up only when they expire.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from jumbe.services.transitions import CHUNK
from jumbe.services.views import MessageView
from jumbe.store.database import Database
from jumbe.store.schema import messages, smpp_outbox, utcnow

LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Owed:
    id: int
    account_id: int
    kind: str  # "receipt" or "mo"
    attempts: int
    message: MessageView


class SmppOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, account_ids: Collection[int], *, limit: int) -> list[Owed]:
        """Lease due rows of these accounts, oldest first, with their messages."""
        if not account_ids:
            return []
        now = utcnow()
        o = smpp_outbox
        due = (
            select(o.c.id)
            .where(
                o.c.status == "pending",
                o.c.account_id.in_(list(account_ids)),
                o.c.next_attempt_at <= now,
                o.c.expires_at > now,
                (o.c.lease_until.is_(None)) | (o.c.lease_until < now),
            )
            .order_by(o.c.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        async with self.db.transaction() as conn:
            rows = (
                await conn.execute(
                    update(o)
                    .where(o.c.id.in_(due))
                    .values(lease_until=now + LEASE)
                    .returning(o.c.id, o.c.account_id, o.c.kind, o.c.attempts, o.c.message_id)
                )
            ).all()
            found = await _messages(conn, [r.message_id for r in rows])
        return sorted(
            (Owed(r.id, r.account_id, r.kind, r.attempts, found[r.message_id]) for r in rows),
            key=lambda owed: owed.id,
        )

    async def settle(self, delivered: Sequence[int], retry: Sequence[tuple[int, float]]) -> None:
        """Mark rows delivered, or due again after the given number of seconds."""
        now = utcnow()
        o = smpp_outbox
        async with self.db.transaction() as conn:
            for start in range(0, len(delivered), CHUNK):
                await conn.execute(
                    update(o)
                    .where(o.c.id.in_(list(delivered[start : start + CHUNK])))
                    .values(status="delivered", lease_until=None)
                )
            for row_id, delay in retry:
                await conn.execute(
                    update(o)
                    .where(o.c.id == row_id)
                    .values(
                        attempts=o.c.attempts + 1,
                        next_attempt_at=now + timedelta(seconds=delay),
                        lease_until=None,
                    )
                )

    async def expire(self) -> int:
        """Give up on what waited past its expiry (the README says how long)."""
        async with self.db.transaction() as conn:
            result = await conn.execute(
                update(smpp_outbox)
                .where(smpp_outbox.c.status == "pending", smpp_outbox.c.expires_at <= utcnow())
                .values(status="expired", lease_until=None)
            )
        return result.rowcount


async def _messages(conn: AsyncConnection, ids: list[int]) -> dict[int, MessageView]:
    found: dict[int, MessageView] = {}
    for start in range(0, len(ids), CHUNK):
        rows = await conn.execute(
            select(messages).where(messages.c.id.in_(ids[start : start + CHUNK]))
        )
        found.update({r.id: MessageView.from_row(r) for r in rows})
    return found
