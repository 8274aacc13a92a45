"""Which accounts have an SMPP receiver bound on this node, and the rows offered to them.

The SMPP outbox's event handler (``services.smpp_outbox.SmppDeliveries``) asks it,
through the ``LocalReceivers`` interface, whether to lease a new receipt or MO
row to this node, and offers it the leased rows once they are committed (the
fast lane). It is built before the services and shared with the SMPP server,
which records binds in it, and with ``Outbound``, which delivers what is offered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence

from jumbe.services.smpp_outbox import OwedDelivery


class BoundReceivers:
    def __init__(self) -> None:
        self._sessions: dict[int, int] = defaultdict(int)  # receive-capable sessions per account
        # Replaced whole on every change: read by the database thread, never mutated in place.
        self._accounts: frozenset[int] = frozenset()
        self._offered: list[OwedDelivery] = []
        self._wake = asyncio.Event()

    def has_receiver(self, account_id: int) -> bool:
        return account_id in self._accounts

    def bound(self, account_id: int) -> None:
        self._sessions[account_id] += 1
        self._accounts = frozenset(self._sessions)

    def unbound(self, account_id: int) -> None:
        self._sessions[account_id] -= 1
        if self._sessions[account_id] <= 0:
            del self._sessions[account_id]
        self._accounts = frozenset(self._sessions)

    def offer(self, owed: Sequence[OwedDelivery]) -> None:
        self._offered.extend(owed)
        self._wake.set()

    def take_offered(self) -> list[OwedDelivery]:
        offered, self._offered = self._offered, []
        self._wake.clear()
        return offered

    async def wait_for_offers(self, seconds: float) -> None:
        """Until rows are offered, or ``seconds`` have passed (the poll for the others)."""
        if not self._offered:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
