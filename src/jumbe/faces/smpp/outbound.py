"""Delivers owed receipts and MO messages to customers' bound SMPP receivers.

Rows wait in the SMPP outbox until an account has a receiver (or transceiver)
bound; they are then claimed, sent as deliver_sm, and settled once the
customer answers: delivered on ESME_ROK, tried again later otherwise. A
session lost mid-delivery leaves the row for the next bind, so what was owed
is never dropped.

Rows come two ways (see services.smpp_outbox): offered through
``BoundReceivers`` straight after the commit that wrote them, when the account
has a receiver bound here (the fast lane), or claimed by this loop's poll.
Each delivery runs on its own and a session takes no more claimed rows than
its window has room for, so a receiver that stops answering holds up only its
own rows, never another account's.
Settling is batched: one transaction per loop turn, whatever was answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import defaultdict
from collections.abc import Callable

from jumbe.core.backoff import doubling_delay
from jumbe.faces.smpp import translate
from jumbe.faces.smpp.receivers import BoundReceivers
from jumbe.services.smpp_outbox import OwedDelivery, SmppOutbox
from jumbe.smpp.constants import CommandStatus
from jumbe.smpp.errors import ResponseTimeout, SessionClosed
from jumbe.smpp.session import Session

log = logging.getLogger(__name__)

IDLE_POLL = 0.05
MAX_RETRY_DELAY = 300.0


class Outbound:
    def __init__(
        self,
        outbox: SmppOutbox,
        receivers: Callable[[], dict[int, list[Session]]],
        offers: BoundReceivers,
        *,
        window: int,
        owner: str,
    ) -> None:
        self.outbox = outbox
        self.owner = owner  # this node's id: the rows it claims name it
        self.receivers = receivers
        self.offers = offers
        self.window = window
        self._busy: dict[Session, int] = defaultdict(int)
        self._delivered: list[int] = []
        self._retry: list[tuple[int, float]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._reference = itertools.cycle(range(1, 256))

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="smpp-outbound")

    async def stop(self) -> None:
        if self._loop:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._settle()  # what was answered is recorded; the rest is retried later

    async def _run(self) -> None:
        while True:
            try:
                self._deliver_offered(self.offers.take_offered())
                started = await self.deliver_once()
                await self._settle()
                if not started:
                    await self.offers.wait_for_offers(IDLE_POLL)
            except Exception:
                log.exception("SMPP outbound delivery failed; will retry")
                await asyncio.sleep(1.0)

    def _deliver_offered(self, owed: list[OwedDelivery]) -> None:
        """The fast lane: rows just committed, leased to this node, for receivers bound here."""
        receivers = self.receivers()
        for row in owed:
            sessions = receivers.get(row.account_id)
            if not sessions:  # the receiver went away since: back to the poll
                self._retry.append((row.outbox_id, 0.0))
                continue
            self._start(row, min(sessions, key=lambda s: self._busy[s]))

    async def deliver_once(self) -> int:
        """Claim what each account's bound receivers have room for, and start delivering it."""
        started = 0
        for account_id, sessions in self.receivers().items():
            room = sum(max(self.window - self._busy[s], 0) for s in sessions)
            if room <= 0:
                continue
            for row in await self.outbox.claim([account_id], limit=room, owner=self.owner):
                self._start(row, min(sessions, key=lambda s: self._busy[s]))
                started += 1
        return started

    def _start(self, row: OwedDelivery, session: Session) -> None:
        self._busy[session] += 1
        task = asyncio.create_task(self._deliver(row, session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, owed: OwedDelivery, session: Session) -> None:
        try:
            outcome = await self._send(owed, session)
        finally:
            self._busy[session] -= 1
            if self._busy[session] <= 0:
                del self._busy[session]
        if outcome is True:
            self._delivered.append(owed.outbox_id)
        else:
            self._retry.append((owed.outbox_id, outcome))

    async def _send(self, owed: OwedDelivery, session: Session) -> bool | float:
        """True once the customer accepted every PDU; else the delay before trying again."""
        if owed.kind == "receipt":
            pdus = [translate.receipt(owed)]
        else:
            pdus = translate.inbound(owed, next(self._reference))
        for pdu in pdus:
            try:
                resp = await session.request(pdu)
            except (SessionClosed, ResponseTimeout):
                return 1.0
            if resp.command_status != CommandStatus.ESME_ROK:
                return doubling_delay(
                    5.0, owed.attempts, MAX_RETRY_DELAY, jitter=0.0
                ).total_seconds()
        return True

    async def _settle(self) -> None:
        if not self._delivered and not self._retry:
            return
        delivered, self._delivered = self._delivered, []
        retry, self._retry = self._retry, []
        await self.outbox.settle(delivered, retry)
