"""Typed events raised by the services, and the handlers that turn them into effects.

A status change or a received MO message is an event raised inside the
transaction that makes it happen. The handlers are registered at the composition
root (``app.py``) and passed in when the services are built: each gets the
transaction's whole batch of events before it commits, writes its effects in it
(a webhook row rendered by the face that accepted the message, an SMPP receipt
outbox row, ...) and may return a step to run once the commit is done (waking a
worker, handing rows to a receiver bound on this node, counting metrics). So a
service never builds a face's wire format nor calls a face, and no effect is
recorded for a change that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol, TypeVar

from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.core.status import MessageStatus
from jumbe.store.database import Database

T = TypeVar("T")

log = logging.getLogger(__name__)


# Not frozen: these are built for every status change on the hot path, and a frozen
# dataclass's __init__ costs three times as much.
@dataclass(slots=True)
class StatusChanged:
    """A message moved from ``old_status`` to ``status``.

    The field names are those of ``views.MessageView``, so a face renders a change
    with the same code that renders the message.
    """

    message_id: int
    uuid: str
    account_id: int
    old_status: MessageStatus
    status: MessageStatus
    status_at: datetime
    status_detail: str
    error_code: str | None
    source: str  # the face that accepted the message: its format for callbacks
    callback_url: str | None
    client_ref: str | None
    recipient: str
    carrier: str
    sender: str
    body: str
    encoding: str
    parts: int
    units: int
    created_at: datetime
    registered_delivery: int
    sim_id: int | None

    direction: ClassVar[str] = "mt"  # only messages Jumbe sends change status

    @property
    def sequence(self) -> int:
        """This change's number in the message's life: 1 for its first, 2 for its second.

        A receiver orders a message's callbacks by it (the machine is linear, so
        the status it came from says how many changes came before).
        """
        return 1 if self.old_status is MessageStatus.ACCEPTED else 2


@dataclass(slots=True)
class MessageReceived:
    """An MO message was stored; ``account_id`` is None when no account owns its number."""

    message_id: int
    uuid: str
    account_id: int | None
    sim_id: int | None
    sender: str
    recipient: str
    body: str
    encoding: str
    parts: int
    received_at: datetime


Event = StatusChanged | MessageReceived
AfterCommit = Callable[[], None]


class EventHandler(Protocol):
    """Writes the effects of a transaction's events inside it (``now`` is the writing time);
    returns what to do once that transaction has committed, if anything."""

    def __call__(
        self, conn: Connection, events: Sequence[Event], now: datetime, /
    ) -> AfterCommit | None: ...


class Raised:
    """The events one transaction has raised so far, in the order they happened."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, events: Iterable[Event]) -> None:
        self.events.extend(events)


class Events:
    """The registered handlers, and the way services run transactions that raise events."""

    def __init__(self, handlers: Sequence[EventHandler] = ()) -> None:
        self._handlers = tuple(handlers)

    async def write(self, db: Database, work: Callable[[Connection, Raised], T]) -> T:
        """Run ``work`` as one write transaction; its events are handled in it, before the
        commit, and the handlers' after-commit steps run once it is committed."""
        after: list[AfterCommit] = []

        def transaction(conn: Connection) -> T:
            raised = Raised()
            result = work(conn, raised)
            after.clear()  # a transaction the database retried starts over
            if raised.events:
                after.extend(self.handle(conn, raised.events, utcnow()))
            return result

        result = await db.write(transaction)
        for step in after:
            try:
                step()
            except Exception:  # the change is committed: a failed follow-up must not undo it
                log.exception("events: an after-commit step failed")
        return result

    def handle(self, conn: Connection, events: Sequence[Event], now: datetime) -> list[AfterCommit]:
        """Every handler's effects of ``events`` in ``conn``; their after-commit steps."""
        steps = []
        for handler in self._handlers:
            step = handler(conn, events, now)
            if step is not None:
                steps.append(step)
        return steps
