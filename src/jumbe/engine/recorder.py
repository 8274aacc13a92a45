"""Carrier facts to the database, group-committed.

Connectors report every submit answer, receipt and inbound message here and
wait for the commit before they acknowledge anything to the carrier: a
deliver_sm_resp is only sent once the receipt or MO it answers is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from jumbe.services.delivery import DeliveryService, Fact
from jumbe.store.group_commit import GroupCommit


class Recorder:
    def __init__(self, delivery: DeliveryService) -> None:
        self._delivery = delivery
        self._commits: GroupCommit[Fact, bool] = GroupCommit(
            self._record, max_batch=2000, name="record"
        )

    def start(self) -> None:
        self._commits.start()

    async def stop(self) -> None:
        await self._commits.stop()

    async def record(self, fact: Fact) -> bool:
        """Store one fact; False when a receipt matched no message we sent."""
        return await self._commits.submit(fact)

    def enqueue(self, fact: Fact) -> asyncio.Future[bool]:
        """Queue a fact at once, without waiting: facts are written in the order queued,
        so a part's carrier id is stored before any receipt read after it."""
        return self._commits.enqueue(fact)

    async def _record(self, facts: list[Fact]) -> Sequence[bool]:
        return await self._delivery.record(facts)
