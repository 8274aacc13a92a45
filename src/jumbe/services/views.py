"""What a message looks like to the faces, whatever face it came through."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from jumbe.core.status import MessageStatus
from jumbe.store.schema import messages

# The public API's four words (REST v1, webhooks). The precise status is
# exposed next to it as `state`, so nothing is lost for clients that want it.
API_STATUS = {
    MessageStatus.ACCEPTED: "queued",
    MessageStatus.SENT: "sent",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.FAILED: "failed",
    MessageStatus.EXPIRED: "failed",
    MessageStatus.CANCELLED: "failed",
    MessageStatus.RECEIVED: "received",
}
STATUSES_FOR_API = {
    word: frozenset(s for s, w in API_STATUS.items() if w == word) for word in API_STATUS.values()
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: MessageStatus
    at: datetime
    description: str


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 3x, on every accepted message
class MessageView:
    id: int
    uuid: str
    account_id: int | None
    direction: str
    source: str
    sender: str
    recipient: str
    carrier: str
    body: str
    encoding: str
    parts: int
    units: int
    status: MessageStatus
    status_at: datetime
    status_detail: str
    error_code: str | None
    created_at: datetime
    valid_until: datetime
    callback_url: str | None
    client_ref: str | None
    attempts: int
    resent_from: int | None
    registered_delivery: int = 0
    udh: str | None = None  # hex
    sim_id: int | None = None  # to or from an IoT SIM
    history: tuple[StatusChange, ...] = ()

    @property
    def api_status(self) -> str:
        return API_STATUS[self.status]

    @classmethod
    def from_row(cls, row: Any, history: tuple[StatusChange, ...] = ()) -> MessageView:
        """The message as a row of ``messages`` holds it (any row with its columns)."""
        view = cls(*_read_stored(row))  # positional: the fields in _STORED's order
        view.status = MessageStatus(view.status)
        view.history = history
        return view

    def insert_values(self) -> dict[str, Any]:
        """The columns of ``messages`` this message fills, for an INSERT (without ``id``)."""
        values = dict(zip(_WRITTEN, _read_written(self)))  # noqa: B905 (same length by construction)
        values["status"] = self.status.value
        return values


# Every field but ``history`` is a column of ``messages`` of the same name: a column added
# to both is read and written with no other change here.
_STORED = tuple(f.name for f in fields(MessageView) if f.name != "history")
_WRITTEN = _STORED[1:]  # all but the id the database gives
_read_stored = attrgetter(*_STORED)
_read_written = attrgetter(*_WRITTEN)
assert _STORED[0] == "id" and set(_STORED) <= set(messages.c.keys())


@dataclass(frozen=True, slots=True)
class Page:
    items: list[MessageView]
    page: int
    page_size: int
    total: int


def history_of(row: Any) -> tuple[StatusChange, ...]:
    """accepted -> sent -> final, read off the message's own columns (the machine is linear)."""
    changes = [StatusChange(MessageStatus.ACCEPTED, row.created_at, f"accepted via {row.source}")]
    if row.sent_at is not None:
        changes.append(
            StatusChange(MessageStatus.SENT, row.sent_at, f"handed to carrier via {row.sent_via}")
        )
    status = MessageStatus(row.status)
    if status not in (MessageStatus.ACCEPTED, MessageStatus.SENT, MessageStatus.RECEIVED):
        changes.append(StatusChange(status, row.status_at, row.status_detail))
    return tuple(changes)
