"""Status changes, written once, with their history, announcements and refunds.

Every status change in Jumbe goes through ``transition``: a conditional UPDATE
(``WHERE status IN sources(new)``) so a transition happens at most once however
many receipts, retries or nodes race for it; the rows it actually changed get a
history event and, when the message has a callback URL, a webhook in the
outbox, all in the caller's transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from jumbe import metrics
from jumbe.core.status import FINAL, MessageStatus, sources
from jumbe.services.billing import post_entry
from jumbe.services.views import API_STATUS
from jumbe.store.schema import (
    message_events,
    message_parts,
    messages,
    notifications,
    smpp_outbox,
)

_RETURNED = (
    messages.c.id,
    messages.c.uuid,
    messages.c.account_id,
    messages.c.recipient,
    messages.c.sender,
    messages.c.parts,
    messages.c.units,
    messages.c.created_at,
    messages.c.callback_url,
    messages.c.client_ref,
    messages.c.source,
    messages.c.registered_delivery,
)
# SQLite caps bound parameters per statement; stay well under it.
CHUNK = 900
# How long receipts and MO messages wait for an SMPP receiver to bind.
SMPP_OUTBOX_TTL = timedelta(hours=72)


async def transition(
    conn: AsyncConnection,
    ids: Sequence[int],
    new: MessageStatus,
    *,
    now: datetime,
    detail: str,
    error_code: str | None = None,
) -> list[Any]:
    """Move the given messages to ``new`` where allowed; return the rows that moved."""
    moved: list[Any] = []
    values: dict[str, Any] = {
        "status": new.value,
        "status_at": now,
        "status_detail": detail[:255],
        "lease_owner": None,
        "lease_until": None,
    }
    if error_code is not None:
        values["error_code"] = error_code
    allowed = [s.value for s in sources(new)]
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        result = await conn.execute(
            update(messages)
            .where(messages.c.id.in_(chunk), messages.c.status.in_(allowed))
            .values(**values)
            .returning(*_RETURNED)
        )
        moved.extend(result.all())
    if not moved:
        return moved
    metrics.status_changes.labels(new.value).inc(len(moved))
    await conn.execute(
        insert(message_events),
        [
            {
                "message_id": r.id,
                "status": new.value,
                "description": detail[:255],
                "created_at": now,
            }
            for r in moved
        ],
    )
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
        await conn.execute(insert(notifications), hooks)
    owed = [r for r in moved if r.source == "smpp" and wants_receipt(r.registered_delivery, new)]
    if owed:
        await conn.execute(
            insert(smpp_outbox),
            [
                {
                    "account_id": r.account_id,
                    "message_id": r.id,
                    "kind": "receipt",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "expires_at": now + SMPP_OUTBOX_TTL,
                    "created_at": now,
                }
                for r in owed
            ],
        )
    return moved


def wants_receipt(registered_delivery: int, status: MessageStatus) -> bool:
    """SMPP 3.4 registered_delivery, low bits: 1 every final outcome, 2 failures only."""
    if status not in FINAL:
        return False
    wanted = registered_delivery & 0x03
    return wanted == 1 or (wanted == 2 and status is not MessageStatus.DELIVERED)


async def refund_unsent(
    conn: AsyncConnection, rows: Sequence[Any], *, now: datetime, why: str
) -> int:
    """Give back the units of messages no carrier ever took a part of; return units refunded."""
    candidates = [r for r in rows if r.units > 0]
    if not candidates:
        return 0
    ids = [r.id for r in candidates]
    sent_any: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = await conn.execute(
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
        entry = await post_entry(
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
            await conn.execute(
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
