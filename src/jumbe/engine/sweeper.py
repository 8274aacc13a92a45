"""Periodic housekeeping: expiry, refreshed carrier prefixes, stale leftovers."""

from __future__ import annotations

import logging
from datetime import timedelta

from jumbe.core.clock import utcnow
from jumbe.engine.background import LoopTask, repeat
from jumbe.services.delivery import DeliveryService
from jumbe.services.idempotency import IdempotencyService
from jumbe.services.numbering import NumberingService
from jumbe.services.smpp_outbox import SmppOutbox
from jumbe.store import outbox
from jumbe.store.database import Database

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
        idempotency: IdempotencyService,
        *,
        interval: float = 5.0,
    ) -> None:
        self.db = db
        self.delivery = delivery
        self.numbering = numbering
        self.smpp_outbox = smpp_outbox
        self.idempotency = idempotency
        self.interval = interval
        self._loop = LoopTask("sweeper")

    def start(self) -> None:
        self._loop.start(repeat(self.sweep, self.interval, what="sweeper"))

    async def stop(self) -> None:
        await self._loop.stop()

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
        await self.idempotency.prune()
        await self.delivery.match_parked()
        forgotten = await self.delivery.prune_unmatched()
        if forgotten:
            log.warning(
                "sweeper: forgot %d receipt(s) that matched no message in 3 days", forgotten
            )
