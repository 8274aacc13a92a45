"""Getting deliver_sm PDUs (receipts and MOs) to whichever receiver bind is up.

A real SMSC keeps mobile-terminated receipts and MOs while the ESME has no receiver bound and
delivers them once it binds again; tests of lost binds rely on exactly that, so nothing queued
here is dropped when a session goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from jumbe.smpp import ResponseTimeout, Session, SessionClosed
from jumbe.smpp.constants import CommandStatus
from jumbe.smpp.pdu import DeliverSm

__all__ = ["Outbox", "Outgoing"]

_log = logging.getLogger(__name__)

# Answers after which the same deliver_sm is worth offering again.
_RETRYABLE = frozenset(
    {
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RSYSERR,
    }
)
RETRY_DELAY = 1.0


@dataclass(slots=True)
class Outgoing:
    pdu: DeliverSm
    kind: str  # "receipt" or "mo", for the statistics
    origin: Session | None = None  # preferred session: the one the message was submitted on
    key: str | int | None = None  # what the carrier's journal knows it by


class _Outlet:
    """One receiving session, its queue, and the workers that keep its window full."""

    __slots__ = ("closed", "queue", "ready", "session", "tasks")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.queue: deque[Outgoing] = deque()
        self.ready = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False


class Outbox:
    def __init__(
        self, *, workers_per_session: int, on_done: Callable[[Outgoing, bool], None]
    ) -> None:
        """``on_done(item, accepted)``: a receiver took it, or refused it for good."""
        self._workers = workers_per_session
        self._on_done = on_done
        self._outlets: dict[Session, _Outlet] = {}
        self._waiting: deque[Outgoing] = deque()  # nobody bound to receive it yet
        self._retries: set[asyncio.TimerHandle] = set()

    @property
    def pending(self) -> int:
        """Messages not yet acknowledged by a receiver (queued anywhere, not in flight)."""
        return len(self._waiting) + sum(len(o.queue) for o in self._outlets.values())

    @property
    def receivers(self) -> int:
        return len(self._outlets)

    def put(self, item: Outgoing) -> None:
        outlet = self._outlets.get(item.origin) if item.origin is not None else None
        if outlet is None and self._outlets:
            outlet = min(self._outlets.values(), key=lambda o: len(o.queue))
        if outlet is None:
            self._waiting.append(item)
            return
        outlet.queue.append(item)
        outlet.ready.set()

    def add_receiver(self, session: Session) -> None:
        if session in self._outlets or session.closed:
            return
        outlet = _Outlet(session)
        self._outlets[session] = outlet
        outlet.tasks = [
            asyncio.get_running_loop().create_task(self._work(outlet)) for _ in range(self._workers)
        ]
        waiting, self._waiting = self._waiting, deque()
        for item in waiting:
            self.put(item)

    def remove_receiver(self, session: Session) -> None:
        """Hand the session's queue to the other receivers (or keep it until one binds)."""
        outlet = self._outlets.pop(session, None)
        if outlet is None:
            return
        outlet.closed = True
        outlet.ready.set()  # idle workers wake up and leave
        for item in outlet.queue:
            self.put(item)
        outlet.queue.clear()

    def close(self) -> None:
        for outlet in self._outlets.values():
            for task in outlet.tasks:
                task.cancel()
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()

    async def _work(self, outlet: _Outlet) -> None:
        session = outlet.session
        while True:
            while not outlet.queue:
                if outlet.closed:
                    return
                outlet.ready.clear()
                await outlet.ready.wait()
            item = outlet.queue.popleft()
            try:
                resp = await session.request(item.pdu)
            except SessionClosed:
                self.put(item)  # remove_receiver already ran: it goes to another session
                return
            except ResponseTimeout:
                self._retry_later(item)
                continue
            if resp.command_status == CommandStatus.ESME_ROK:
                self._on_done(item, True)
            elif resp.command_status in _RETRYABLE:
                self._retry_later(item)
            else:
                _log.info("receiver refused %s with status 0x%X", item.kind, resp.command_status)
                self._on_done(item, False)

    def _retry_later(self, item: Outgoing) -> None:
        def again() -> None:
            self._retries.discard(handle)
            self.put(item)

        handle = asyncio.get_running_loop().call_later(RETRY_DELAY, again)
        self._retries.add(handle)
