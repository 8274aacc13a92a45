"""What a message looks like to the faces, whatever face it came through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jumbe.core.status import MessageStatus

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
        return cls(
            id=row.id,
            uuid=row.uuid,
            account_id=row.account_id,
            direction=row.direction,
            source=row.source,
            sender=row.sender,
            recipient=row.recipient,
            carrier=row.carrier,
            body=row.body,
            encoding=row.encoding,
            parts=row.parts,
            units=row.units,
            status=MessageStatus(row.status),
            status_at=row.status_at,
            status_detail=row.status_detail,
            error_code=row.error_code,
            created_at=row.created_at,
            valid_until=row.valid_until,
            callback_url=row.callback_url,
            client_ref=row.client_ref,
            attempts=row.attempts,
            resent_from=row.resent_from,
            registered_delivery=row.registered_delivery,
            udh=row.udh,
            sim_id=row.sim_id,
            history=history,
        )


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
