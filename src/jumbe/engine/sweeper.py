"""Periodic housekeeping: expiry, refreshed carrier prefixes, stale leftovers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from jumbe.services.delivery import DeliveryService
from jumbe.services.numbering import NumberingService
from jumbe.services.smpp_outbox import SmppOutbox
from jumbe.store import outbox
from jumbe.store.database import Database
from jumbe.store.schema import utcnow

log = logging.getLogger(__name__)

FRAGMENT_TTL = timedelta(hours=1)
NOTIFICATION_TTL = timedelta(days=7)


class Sweeper:
    def __init__(
        self,
        db: Database,
        delivery: DeliveryService,
        numbering: NumberingService,
        smpp_outbox: SmppOutbox,
        *,
        interval: float = 5.0,
    ) -> None:
        self.db = db
        self.delivery = delivery
        self.numbering = numbering
        self.smpp_outbox = smpp_outbox
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sweeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeper: pass failed; will retry")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> None:
        while await self.delivery.expire_overdue() > 0:
            pass
        await self.numbering.refresh()
        dropped = await self.delivery.drop_stale_fragments(FRAGMENT_TTL)
        if dropped:
            log.warning(
                "sweeper: dropped %d inbound segment(s) whose message never completed", dropped
            )
        expired = await self.smpp_outbox.expire()
        if expired:
            log.warning(
                "sweeper: %d receipt(s)/MO message(s) expired before an SMPP receiver bound",
                expired,
            )
        await self.db.write(lambda conn: outbox.prune(conn, before=utcnow() - NOTIFICATION_TTL))
