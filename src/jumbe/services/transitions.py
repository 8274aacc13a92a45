"""Status changes, written once, with their announcements and refunds.

Every status change in Jumbe goes through ``transition``: a conditional UPDATE
(``WHERE status IN sources(new)``) so a transition happens at most once however
many receipts, retries or nodes race for it. For the rows it actually changed,
the same transaction queues a webhook when the message has a callback URL and
an SMPP receipt when its SMPP sender asked for one.

Statements on this path are built once, at import: building and cache-keying
a SQLAlchemy statement per call cost more than running it (152 us against 41 us
measured for a receipt lookup).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from jumbe import metrics
from jumbe.core.status import FINAL, MessageStatus, sources
from jumbe.services.billing import post_entry
from jumbe.services.smpp_outbox import Announcements, OwedDelivery
from jumbe.services.views import API_STATUS
from jumbe.store.database import CHUNK
from jumbe.store.schema import UTCDateTime, message_parts, messages, notifications

_RETURNED = (
    messages.c.id,
    messages.c.uuid,
    messages.c.account_id,
    messages.c.recipient,
    messages.c.sender,
    messages.c.parts,
    messages.c.units,
    messages.c.body,
    messages.c.encoding,
    messages.c.created_at,
    messages.c.callback_url,
    messages.c.client_ref,
    messages.c.source,
    messages.c.registered_delivery,
)
_CHANGE = {
    "status": bindparam("new_status"),
    "status_at": bindparam("at", type_=UTCDateTime),
    "status_detail": bindparam("detail"),
    "error_code": bindparam("error"),
    "lease_owner": None,
    "lease_until": None,
}
_WHERE = (
    messages.c.id.in_(bindparam("ids", expanding=True)),
    messages.c.status.in_(bindparam("allowed", expanding=True)),
)
_TO_FINAL = update(messages).where(*_WHERE).values(**_CHANGE).returning(*_RETURNED)
_TO_SENT = (
    update(messages)
    .where(*_WHERE)
    .values(
        **_CHANGE,
        sent_at=bindparam("at2", type_=UTCDateTime),
        sent_via=bindparam("via"),
    )
    .returning(*_RETURNED)
)
_INSERT_NOTIFICATIONS = insert(notifications)


def transition(
    conn: Connection,
    ids: Sequence[int],
    new: MessageStatus,
    *,
    now: datetime,
    detail: str,
    error_code: str | None = None,
    via: str | None = None,
    announce: Announcements | None = None,
) -> list[Any]:
    """Move the given messages to ``new`` where allowed; return the rows that moved.

    ``via``: the connector that took a message (for SENT).
    """
    moved: list[Any] = []
    params: dict[str, Any] = {
        "new_status": new.value,
        "at": now,
        "detail": detail[:255],
        "error": error_code,
        "allowed": [s.value for s in sources(new)],
    }
    statement = _TO_FINAL
    if new is MessageStatus.SENT:
        statement = _TO_SENT
        params.update(at2=now, via=via)
    for start in range(0, len(ids), CHUNK):
        params["ids"] = list(ids[start : start + CHUNK])
        moved.extend(conn.execute(statement, params).all())
    if not moved:
        return moved
    metrics.status_changes.labels(new.value).inc(len(moved))
    hooks = [
        {
            "account_id": r.account_id,
            "message_id": r.id,
            "url": r.callback_url,
            "payload": json.dumps(webhook_payload(r, new, now, detail, error_code)),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for r in moved
        if r.callback_url
    ]
    if hooks:
        conn.execute(_INSERT_NOTIFICATIONS, hooks)
    owed = [
        OwedDelivery.of(
            r.account_id, "receipt", r, status=new, status_at=now, error_code=error_code
        )
        for r in moved
        if r.source == "smpp" and wants_receipt(r.registered_delivery, new)
    ]
    if owed:
        (announce or Announcements(lambda _account: False, [])).queue(conn, owed, now)
    return moved


def wants_receipt(registered_delivery: int, status: MessageStatus) -> bool:
    """SMPP 3.4 registered_delivery, low bits: 1 every final outcome, 2 failures only."""
    if status not in FINAL:
        return False
    wanted = registered_delivery & 0x03
    return wanted == 1 or (wanted == 2 and status is not MessageStatus.DELIVERED)


def refund_unsent(conn: Connection, rows: Sequence[Any], *, now: datetime, why: str) -> int:
    """Give back the units of messages no carrier ever took a part of; return units refunded."""
    candidates = [r for r in rows if r.units > 0]
    if not candidates:
        return 0
    ids = [r.id for r in candidates]
    sent_any: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = conn.execute(
            select(message_parts.c.message_id)
            .where(message_parts.c.message_id.in_(chunk))
            .distinct()
        )
        sent_any.update(found.scalars())
    by_account: dict[int, list[Any]] = defaultdict(list)
    for r in candidates:
        if r.id not in sent_any:
            by_account[r.account_id].append(r)
    total = 0
    for account_id, refunded in by_account.items():
        units = sum(r.units for r in refunded)
        entry = post_entry(
            conn,
            account_id,
            units,
            "refund",
            f"{len(refunded)} message(s) {why}",
            message_count=len(refunded),
            now=now,
        )
        refunded_ids = [r.id for r in refunded]
        for start in range(0, len(refunded_ids), CHUNK):
            conn.execute(
                update(messages)
                .where(messages.c.id.in_(refunded_ids[start : start + CHUNK]))
                .values(refund_entry_id=entry)
            )
        total += units
    return total


def webhook_payload(
    row: Any, status: MessageStatus, at: datetime, detail: str, error_code: str | None
) -> dict[str, Any]:
    return {
        "event": "message.status",
        "uuid": row.uuid,
        "to": "+" + row.recipient,
        "sender_id": row.sender,
        "status": API_STATUS[status],
        "state": status.value,
        "description": detail,
        "error_code": error_code,
        "parts": row.parts,
        "client_ref": row.client_ref,
        "created_at": iso(row.created_at),
        "updated_at": iso(at),
    }


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the REST API shows times."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
