"""The outbound queue: accepted messages claimed by dispatchers under a lease.

The queue is the partial index of accepted messages ordered by
``next_attempt_at``. A claim writes ``lease_owner`` and ``lease_until`` and
moves ``next_attempt_at`` to the end of the lease: a claimed message is
thereby no longer due, so the next claim's index scan stops before it instead
of stepping over every message in flight, and a lease that runs out (its node
died) simply makes the message due again. The lease keeps two dispatchers
(two nodes on one PostgreSQL) from sending the same message; ``FOR UPDATE SKIP
LOCKED`` lets them claim side by side. After a crash a node releases its own
leases at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection

from jumbe.store.schema import message_parts, messages

CLAIMED_COLUMNS = (
    messages.c.id,
    messages.c.uuid,
    messages.c.account_id,
    messages.c.sender,
    messages.c.recipient,
    messages.c.carrier,
    messages.c.body,
    messages.c.encoding,
    messages.c.parts,
    messages.c.concat_ref,
    messages.c.udh,
    messages.c.valid_until,
    messages.c.attempts,
)


def claim(
    conn: Connection,
    *,
    owner: str,
    include: Sequence[str] | None,
    exclude: Sequence[str] = (),
    limit: int,
    now: datetime,
    lease: timedelta,
    skip_locked: bool,
) -> list[Any]:
    """Lease up to ``limit`` due messages for the carriers in ``include`` (None: any) but not
    in ``exclude``."""
    due = (
        select(messages.c.id)
        .where(
            messages.c.status == "accepted",
            messages.c.next_attempt_at <= now,
            messages.c.valid_until > now,
        )
        .order_by(messages.c.next_attempt_at)
        .limit(limit)
    )
    if include is not None:
        due = due.where(messages.c.carrier.in_(list(include)))
    if exclude:
        due = due.where(messages.c.carrier.not_in(list(exclude)))
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    result = conn.execute(
        update(messages)
        .where(messages.c.id.in_(due))
        .values(lease_owner=owner, lease_until=now + lease, next_attempt_at=now + lease)
        .returning(*CLAIMED_COLUMNS)
    )
    return list(result.all())


def acked_parts(conn: Connection, message_ids: Sequence[int]) -> dict[int, set[int]]:
    """Parts a carrier already took, so a retry sends only the rest."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(message_parts.c.message_id, message_parts.c.part_no).where(
            message_parts.c.message_id.in_(list(message_ids))
        )
    )
    done: dict[int, set[int]] = {}
    for r in rows:
        done.setdefault(r.message_id, set()).add(r.part_no)
    return done


def release(
    conn: Connection, *, owner: str, now: datetime, message_ids: Sequence[int] | None = None
) -> int:
    """Give leases back (all of ``owner``'s, or the listed ones): due again at once, in
    their place in the queue (by acceptance), not behind the backlog that came since:
    a dead node's messages were due when it claimed them."""
    conditions = [messages.c.lease_owner == owner, messages.c.status == "accepted"]
    if message_ids is not None:
        conditions.append(messages.c.id.in_(list(message_ids)))
    result = conn.execute(
        update(messages)
        .where(and_(*conditions))
        .values(lease_owner=None, lease_until=None, next_attempt_at=messages.c.created_at)
    )
    return result.rowcount


def status_counts(conn: Connection) -> dict[str, int]:
    """How many messages are in each status (a full count: the caller paces it)."""
    query = select(messages.c.status, func.count()).group_by(messages.c.status)
    return {status: n for status, n in conn.execute(query).all()}


def depth(conn: Connection) -> int:
    """Messages waiting to be handed to a carrier (uses the partial queue index)."""
    return (
        conn.execute(
            select(func.count()).select_from(messages).where(messages.c.status == "accepted")
        )
    ).scalar_one()
