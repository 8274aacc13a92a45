"""Webhook rows: a status change of a message with a callback URL, queued for its sender.

``WebhookRows`` is an event handler. The body of each row is rendered by the
face that accepted the message (a registry keyed by the message's ``source``,
filled at the composition root), so this service knows no wire format. It
writes the rows in the transaction of the change, already claimed by this
node's sender, and once that commits offers them to it (``CallbackLane``, the
engine's ``WebhookSender``): so a new callback costs the database no claim,
and the sender holds its body without reading it back. If the node dies first,
the claim runs out (or is released at restart) and the row is sent from there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from jumbe.services.events import AfterCommit, Event, StatusChanged
from jumbe.store.outbox import LEASE
from jumbe.store.schema import notifications

log = logging.getLogger(__name__)

_INSERT = insert(notifications).returning(notifications.c.id, sort_by_parameter_order=True)


@dataclass(slots=True)
class NewCallback:
    """A callback row just written, claimed by this node's sender."""

    id: int
    account_id: int
    message_id: int
    url: str
    payload: str
    delivery_id: str
    sequence: int


class CallbackLane(Protocol):
    """This node's webhook sender, as the outbox handler needs it."""

    @property
    def owner(self) -> str:
        """The name this node claims rows under."""
        ...

    def offer(self, callbacks: Sequence[NewCallback]) -> None:
        """Take rows just committed (after commit, on the event loop)."""
        ...


class WebhookRenderer(Protocol):
    """A face's callback body for one status change, carrying its delivery id."""

    def __call__(self, change: StatusChanged, delivery_id: str) -> str: ...


def delivery_id(change: StatusChanged) -> str:
    """Unique per callback and the same on every retry of it: the receiver's de-duplication key."""
    return f"{change.uuid}.{change.sequence}"


class WebhookRows:
    def __init__(self, renderers: Mapping[str, WebhookRenderer], sender: CallbackLane) -> None:
        self.renderers = renderers
        self.sender = sender

    def __call__(
        self, conn: Connection, events: Sequence[Event], now: datetime
    ) -> AfterCommit | None:
        rows: list[dict[str, Any]] = []
        claimed = now + LEASE
        for e in events:
            if not isinstance(e, StatusChanged) or not e.callback_url:
                continue
            render = self.renderers.get(e.source)
            if render is None:  # a face took a callback URL but registered no format
                log.error("webhooks: no callback format for messages from %r", e.source)
                continue
            delivery = delivery_id(e)
            rows.append(
                {
                    "account_id": e.account_id,
                    "message_id": e.message_id,
                    "url": e.callback_url,
                    "payload": render(e, delivery),
                    "delivery_id": delivery,
                    "sequence": e.sequence,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": claimed,
                    "lease_until": claimed,
                    "lease_owner": self.sender.owner,
                    "created_at": now,
                }
            )
        if not rows:
            return None
        ids = conn.execute(_INSERT, rows).scalars().all()
        offered = [
            NewCallback(
                id=i,
                account_id=r["account_id"],
                message_id=r["message_id"],
                url=r["url"],
                payload=r["payload"],
                delivery_id=r["delivery_id"],
                sequence=r["sequence"],
            )
            for i, r in zip(ids, rows, strict=True)
        ]
        return partial(self.sender.offer, offered)
