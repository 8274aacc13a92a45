"""Asking carriers about messages whose receipt did not come, so none waits on goodwill.

A carrier can lose a receipt (its SMSC restarted, a deliver_sm went astray); the
message would stay *sent* until its validity ends. So a part still without a receipt
``JUMBE_RECEIPT_QUERY_AFTER`` seconds after its submit is asked about with
``query_sm`` on the connector that took it, and a final answer is recorded exactly as
the receipt would have been (the recorder, then ``DeliveryService.record``). The
questions go at most ``JUMBE_RECEIPT_QUERIES_PER_SECOND`` per node, so a backlog of
thousands (a carrier that lost a day's receipts) cannot flood anybody; the claim
(``store/receipt_queries.py``) spaces repeated questions about the same part out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from aiolimiter import AsyncLimiter

from jumbe.engine.connector import SmppConnector
from jumbe.engine.recorder import Recorder
from jumbe.store.database import Database
from jumbe.store.receipt_queries import claim_awaited
from jumbe.store.schema import utcnow

log = logging.getLogger(__name__)

PASS_SECONDS = 5.0  # a pass claims what it can ask in this long


class ReceiptQueries:
    def __init__(
        self,
        db: Database,
        connectors: Mapping[str, SmppConnector],
        recorder: Recorder,
        *,
        per_second: float,
    ) -> None:
        self.db = db
        self.connectors = connectors
        self.recorder = recorder
        self.batch = max(1, int(per_second * PASS_SECONDS))
        self._limiter = AsyncLimiter(per_second, 1.0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="receipt-queries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                asked = await self.ask()
            except Exception:
                log.exception("receipt queries: pass failed; will retry")
                asked = 0
            if asked < self.batch:  # a full batch means a backlog: go on at once
                await asyncio.sleep(PASS_SECONDS)

    async def ask(self) -> int:
        """One pass: claim due parts and ask about each; returns how many were asked."""
        bound = [name for name, c in self.connectors.items() if c.ready]
        if not bound:
            return 0
        parts = await self.db.write(
            lambda conn: claim_awaited(
                conn,
                connectors=bound,
                now=utcnow(),
                limit=self.batch,
                skip_locked=not self.db.is_sqlite,
            )
        )
        final = 0
        for part in parts:
            await self._limiter.acquire()
            receipt = await self.connectors[part.connector].query(
                part.carrier_message_id, part.sender
            )
            if receipt is not None:
                await self.recorder.record(receipt)
                final += 1
        if parts:
            log.info(
                "receipt queries: asked carriers about %d part(s) whose receipt did not come;"
                " %d had a final answer",
                len(parts),
                final,
            )
        return len(parts)
