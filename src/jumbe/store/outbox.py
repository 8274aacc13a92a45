"""The webhook outbox: notifications written with status changes, claimed by senders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection

from jumbe.store.schema import accounts, notifications


def claim(
    conn: Connection, *, limit: int, now: datetime, lease: timedelta, skip_locked: bool
) -> list[Any]:
    """Lease due notifications, each with its account's signing secret."""
    n = notifications
    due = (
        select(n.c.id)
        .where(
            n.c.status == "pending",
            n.c.next_attempt_at <= now,
            or_(n.c.lease_until.is_(None), n.c.lease_until < now),
        )
        .order_by(n.c.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(n).where(n.c.id.in_(due)).values(lease_until=now + lease).returning(n.c.id)
    )
    ids = list(claimed.scalars())
    if not ids:
        return []
    rows = conn.execute(
        select(n.c.id, n.c.url, n.c.payload, n.c.attempts, accounts.c.webhook_secret)
        .join(accounts, accounts.c.id == n.c.account_id)
        .where(n.c.id.in_(ids))
    )
    return list(rows.all())


def finish(
    conn: Connection,
    notification_id: int,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    error: str | None,
) -> None:
    conn.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            lease_until=None,
            last_error=error[:255] if error else None,
        )
    )


def prune(conn: Connection, *, before: datetime) -> int:
    """Forget notifications that were delivered or given up on long ago."""
    result = conn.execute(
        delete(notifications).where(
            notifications.c.status != "pending", notifications.c.created_at < before
        )
    )
    return result.rowcount
