"""The webhook outbox: callbacks written with status changes, claimed by senders.

A row is due when it is pending and its ``next_attempt_at`` has come. Claiming
moves ``next_attempt_at`` to the end of the lease, so rows in flight drop out
of the due index and a claim never scans them; if their node dies they are due
again when the lease ends (or at once when that node restarts and releases its
own claims).

New rows are written already claimed by the node whose sender will send them
(``services.webhooks``); the claim here is for retries and for rows whose
node died. A message's callbacks leave in order: of its pending rows only the
earliest may be in flight. A claimed row with an earlier pending sibling is put back, due
when that sibling is; when a row is finished (delivered or given up) its
message's later rows are made due at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from jumbe.store.database import CHUNK
from jumbe.store.schema import UTCDateTime, accounts, notifications

n = notifications

# How long a claimed row is kept from other senders (longer than any attempt takes).
LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Callback:
    """A claimed row, with what its POST needs."""

    id: int
    message_id: int
    url: str
    payload: str
    attempts: int
    delivery_id: str
    sequence: int | None
    secret: str  # the account's webhook signing secret


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended: ``status`` delivered (the row goes), failed (given up: kept a
    while, with its last error) or pending (retry)."""

    id: int
    message_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    error: str | None


_FIRST_PENDING = (
    select(n.c.message_id, func.min(n.c.id).label("first"))
    .where(n.c.status == "pending", n.c.message_id.in_(bindparam("mids", expanding=True)))
    .group_by(n.c.message_id)
)
_WAIT_FOR_SIBLING = (
    update(n)
    .where(n.c.id == bindparam("nid"))
    .values(
        next_attempt_at=select(n.c.next_attempt_at)
        .where(n.c.id == bindparam("sibling"))
        .scalar_subquery(),
        lease_until=None,
        lease_owner=None,
    )
)
_READ = (
    select(
        n.c.id,
        n.c.message_id,
        n.c.url,
        n.c.payload,
        n.c.attempts,
        n.c.delivery_id,
        n.c.sequence,
        accounts.c.webhook_secret,
    )
    .join(accounts, accounts.c.id == n.c.account_id)
    .where(n.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(n.c.id)
)
# A delivered callback has nothing left to say (the message keeps its history):
# deleting it keeps the outbox as small as its backlog, for every index on it.
_DELIVERED = delete(n).where(n.c.id.in_(bindparam("ids", expanding=True)))
_FINISH = (
    update(n)
    .where(n.c.id == bindparam("nid"))
    .values(
        status=bindparam("outcome"),
        attempts=bindparam("tries"),
        next_attempt_at=bindparam("due", type_=UTCDateTime),
        lease_until=None,
        lease_owner=None,
        last_error=bindparam("error"),
    )
)
_SIBLINGS_DUE = (
    update(n)
    .where(
        n.c.status == "pending",
        n.c.message_id.in_(bindparam("mids", expanding=True)),
        n.c.next_attempt_at > bindparam("now", type_=UTCDateTime),
        n.c.lease_owner.is_(None),
    )
    .values(next_attempt_at=bindparam("now", type_=UTCDateTime))
)


def claim(
    conn: Connection,
    *,
    limit: int,
    now: datetime,
    lease: timedelta,
    owner: str,
    skip_locked: bool,
) -> list[Callback]:
    """Lease up to ``limit`` due callbacks, at most one per message (its earliest pending)."""
    due = (
        select(n.c.id)
        .where(n.c.status == "pending", n.c.next_attempt_at <= now)
        .order_by(n.c.next_attempt_at, n.c.id)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    until = now + lease
    claimed = conn.execute(
        update(n)
        .where(n.c.id.in_(due))
        .values(next_attempt_at=until, lease_until=until, lease_owner=owner)
        .returning(n.c.id, n.c.message_id)
    ).all()
    if not claimed:
        return []
    ids = sorted(first_of_their_messages(conn, [(r.id, r.message_id) for r in claimed]))
    found: list[Callback] = []
    for start in range(0, len(ids), CHUNK):
        found.extend(
            Callback(
                id=r.id,
                message_id=r.message_id,
                url=r.url,
                payload=r.payload,
                attempts=r.attempts,
                delivery_id=r.delivery_id or str(r.id),  # rows from before delivery ids
                sequence=r.sequence,
                secret=r.webhook_secret,
            )
            for r in conn.execute(_READ, {"ids": ids[start : start + CHUNK]})
        )
    return found


def first_of_their_messages(conn: Connection, rows: Sequence[tuple[int, int]]) -> set[int]:
    """Of the given (row id, message id), claimed by the caller, the ids that may go now:
    each its message's earliest pending row. The others are put back, due with it."""
    first: dict[int, int] = {}
    message_ids = sorted({m for _, m in rows})
    for start in range(0, len(message_ids), CHUNK):
        for row in conn.execute(_FIRST_PENDING, {"mids": message_ids[start : start + CHUNK]}):
            first[row.message_id] = row.first
    waiting = [{"nid": i, "sibling": first[m]} for i, m in rows if first[m] != i]
    if waiting:
        conn.execute(_WAIT_FOR_SIBLING, waiting)
    return {i for i, m in rows if first[m] == i}


def secrets(conn: Connection, account_ids: Sequence[int]) -> dict[int, str]:
    """The accounts' webhook signing secrets."""
    found = conn.execute(
        select(accounts.c.id, accounts.c.webhook_secret).where(accounts.c.id.in_(account_ids))
    )
    return {r.id: r.webhook_secret for r in found}


def put_back(conn: Connection, ids: Sequence[int], *, now: datetime) -> None:
    """Claimed rows this sender will not send (it holds too many): due for anyone now."""
    for start in range(0, len(ids), CHUNK):
        conn.execute(
            update(n)
            .where(n.c.id.in_(ids[start : start + CHUNK]), n.c.status == "pending")
            .values(next_attempt_at=now, lease_until=None, lease_owner=None)
        )


def finish(conn: Connection, outcomes: Sequence[Outcome], *, now: datetime) -> int:
    """Record attempts; return how many later callbacks of finished messages became due
    (a claim in the same transaction takes them)."""
    if not outcomes:
        return 0
    delivered = [o.id for o in outcomes if o.status == "delivered"]  # at load, nearly all
    for start in range(0, len(delivered), CHUNK):
        conn.execute(_DELIVERED, {"ids": delivered[start : start + CHUNK]})
    others = [
        {
            "nid": o.id,
            "outcome": o.status,
            "tries": o.attempts,
            "due": o.next_attempt_at,
            "error": o.error[:255] if o.error else None,
        }
        for o in outcomes
        if o.status != "delivered"
    ]
    if others:
        conn.execute(_FINISH, others)
    done = sorted({o.message_id for o in outcomes if o.status != "pending"})
    released = 0
    for start in range(0, len(done), CHUNK):
        result = conn.execute(_SIBLINGS_DUE, {"mids": done[start : start + CHUNK], "now": now})
        released += result.rowcount
    return released


def release(conn: Connection, *, owner: str, now: datetime) -> int:
    """Claims a previous run of this node left behind: due again now."""
    return conn.execute(
        update(n)
        .where(n.c.status == "pending", n.c.lease_owner == owner)
        .values(next_attempt_at=now, lease_until=None, lease_owner=None)
    ).rowcount


def prune(conn: Connection, *, before: datetime) -> int:
    """Forget callbacks given up on long ago (delivered ones are gone at once)."""
    result = conn.execute(
        delete(notifications).where(
            notifications.c.status != "pending", notifications.c.created_at < before
        )
    )
    return result.rowcount
