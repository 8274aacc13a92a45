"""Webhook rows: a status change of a message with a callback URL, queued for its sender.

``WebhookRows`` is an event handler. The body of each row is rendered by the
face that accepted the message (a registry keyed by the message's ``source``,
filled at the composition root), so this service knows no wire format: it only
writes the rows in the transaction of the change and, once that commits, wakes
the sender (``engine.webhooks``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from jumbe.services.events import AfterCommit, Event, StatusChanged
from jumbe.store.schema import notifications

log = logging.getLogger(__name__)

_INSERT = insert(notifications)


class WebhookRenderer(Protocol):
    """A face's callback body for one status change, carrying its delivery id."""

    def __call__(self, change: StatusChanged, delivery_id: str) -> str: ...


def delivery_id(change: StatusChanged) -> str:
    """Unique per callback and the same on every retry of it: the receiver's de-duplication key."""
    return f"{change.uuid}.{change.sequence}"


class WebhookRows:
    def __init__(self, renderers: Mapping[str, WebhookRenderer], wake: Callable[[], None]) -> None:
        self.renderers = renderers
        self.wake = wake

    def __call__(
        self, conn: Connection, events: Sequence[Event], now: datetime
    ) -> AfterCommit | None:
        rows = []
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
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        if not rows:
            return None
        conn.execute(_INSERT, rows)
        return self.wake
