"""Message parts whose receipt has not come, claimed to be asked about with query_sm.

A part is inserted with ``query_at`` set some minutes after its submit (the
partial index holds only parts without a status, so it is as small as what is
awaited). A claim moves ``query_at`` on before the question is asked, so two
nodes (``FOR UPDATE SKIP LOCKED``) or two passes never ask about the same part
at once, and a carrier that keeps saying "en route" is asked ever less often:
after as long again as the part has waited so far (10 minutes, 20, 40, ...).
A part whose message is no longer ``sent`` (expired meanwhile) leaves the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from jumbe.store.schema import UTCDateTime, message_parts, messages


@dataclass(frozen=True, slots=True)
class AwaitedPart:
    message_id: int
    part_no: int
    connector: str
    carrier_message_id: str
    sender: str  # the source_addr query_sm must repeat


_REQUEUE = (
    update(message_parts)
    .where(
        message_parts.c.message_id == bindparam("mid"),
        message_parts.c.part_no == bindparam("pno"),
    )
    .values(query_at=bindparam("next", type_=UTCDateTime))
)


def claim_awaited(
    conn: Connection,
    *,
    connectors: Sequence[str],
    now: datetime,
    limit: int,
    skip_locked: bool,
) -> list[AwaitedPart]:
    """Up to ``limit`` parts due for a question on these connectors, oldest due first."""
    p, m = message_parts, messages
    due = (
        select(
            p.c.message_id,
            p.c.part_no,
            p.c.connector,
            p.c.carrier_message_id,
            p.c.submitted_at,
            m.c.status,
            m.c.sender,
        )
        .join(m, m.c.id == p.c.message_id)
        .where(p.c.status.is_(None), p.c.query_at <= now, p.c.connector.in_(list(connectors)))
        .order_by(p.c.query_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True, of=p)
    rows = conn.execute(due).all()
    if rows:
        conn.execute(
            _REQUEUE,
            [
                {
                    "mid": r.message_id,
                    "pno": r.part_no,
                    "next": now + (now - r.submitted_at) if r.status == "sent" else None,
                }
                for r in rows
            ],
        )
    return [
        AwaitedPart(r.message_id, r.part_no, r.connector, r.carrier_message_id, r.sender)
        for r in rows
        if r.status == "sent"
    ]
