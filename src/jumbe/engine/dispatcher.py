"""Moves accepted messages from the database queue to the connectors.

It claims only what the bound connectors have room for, and only for carriers
that have a bound connector on their route, so messages for a carrier that is
down stay untouched in the queue instead of being claimed and bounced. It
wakes when a message is accepted or a connector frees room, and otherwise
polls once per interval for scheduled messages and retries that fell due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.engine.background import LoopTask
from jumbe.engine.connector import DispatchJob, SmppConnector
from jumbe.engine.router import Router
from jumbe.store import queue
from jumbe.store.database import Database

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


def claim_limit(*, room: int, capacity: int, batch: int, thrifty: bool) -> int:
    """How many messages to claim now: what the bound connectors have ``room`` for, at most
    a ``batch``; 0 to skip. ``thrifty`` (woken by traffic) skips a sliver of room: the
    connectors say when they are half empty, and one claim then fills many slots."""
    if room <= 0:
        return 0
    if thrifty and room < min(batch, capacity // 2):
        return 0
    return min(room, batch)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        router: Router,
        connectors: Mapping[str, SmppConnector],
        *,
        owner: str,
        batch: int = 500,
        poll_interval: float = 1.0,
        may_claim: Callable[[], bool] = lambda: True,
    ) -> None:
        self.db = db
        self.router = router
        self.connectors = connectors
        self.owner = owner
        self.batch = batch
        self.poll_interval = poll_interval
        # False while this node cannot prove it lives (its heartbeat failing): the others
        # may be taking over its leases, so it claims nothing new
        self.may_claim = may_claim
        self._wake = asyncio.Event()
        self._loop = LoopTask("dispatcher")
        self.dispatched = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Release this node's leases from a previous life, then start claiming."""
        released = await self.db.write(
            lambda conn: queue.release(conn, owner=self.owner, now=utcnow())
        )
        if released:
            log.info(
                "dispatcher: %d message(s) left in flight by the last run are queued again",
                released,
            )
        self._loop.start(self._run())

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            woken = False
            with contextlib.suppress(TimeoutError):
                woken = await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                # woken by traffic: claim only for real room; on the poll: whatever is free
                while await self.dispatch_once(thrifty=woken) >= self.batch:
                    pass
            except Exception:
                log.exception("dispatcher: claiming failed; will retry")
                await asyncio.sleep(self.poll_interval)

    async def dispatch_once(self, *, thrifty: bool = False) -> int:
        """Claim one batch and hand it out; return how many messages were claimed.

        ``thrifty``: see ``claim_limit``.
        """
        if not self.may_claim():
            return 0
        ready = {name for name, c in self.connectors.items() if c.ready}
        claim_filter = self.router.claim_filter(ready)
        if claim_filter.nothing:
            return 0
        limit = claim_limit(
            room=sum(self.connectors[name].free_capacity() for name in ready),
            capacity=sum(self.connectors[name].capacity for name in ready),
            batch=self.batch,
            thrifty=thrifty,
        )
        if limit == 0:
            return 0
        now = utcnow()

        def claim_batch(conn: Connection) -> tuple[list[Any], dict[int, set[int]]]:
            rows = queue.claim(
                conn,
                owner=self.owner,
                include=claim_filter.include,
                exclude=claim_filter.exclude,
                limit=limit,
                now=now,
                lease=LEASE,
                skip_locked=not self.db.is_sqlite,
            )
            retried = [r.id for r in rows if r.attempts > 0 and r.parts > 1]
            return rows, queue.acked_parts(conn, retried)

        rows, done = await self.db.write(claim_batch)
        unroutable = []
        for row in rows:
            name = self.router.choose(row.carrier, ready)
            if name is None:  # the route went down between filter and claim
                unroutable.append(row.id)
                continue
            self.connectors[name].enqueue(
                DispatchJob(
                    message_id=row.id,
                    sender=row.sender,
                    recipient=row.recipient,
                    body=row.body,
                    encoding=row.encoding,
                    udh=bytes.fromhex(row.udh) if row.udh else None,
                    parts=row.parts,
                    concat_ref=row.concat_ref,
                    valid_until=row.valid_until,
                    attempts=row.attempts,
                    done_parts=frozenset(done.get(row.id, ())),
                )
            )
        if unroutable:
            await self.db.write(
                lambda conn: queue.release(
                    conn, owner=self.owner, now=utcnow(), message_ids=unroutable
                )
            )
        self.dispatched += len(rows) - len(unroutable)
        return len(rows)
