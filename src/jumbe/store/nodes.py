"""The nodes of a cluster: heartbeats, and taking over the leases of a node that died.

Every lease a node holds names it (``lease_owner`` on messages and callbacks). A
node beats every few seconds; a node whose beat is older than the dead-after
bound is dead, and whichever live node sees it first releases its leases in one
transaction with forgetting it, so its claimed messages and callbacks are due at
once. That is what a restart of the same node does to its own leases, so a
takeover resends exactly what a restart would: the at-least-once window is the
same.

Time is the database's on PostgreSQL (``now()``): the nodes' clocks may
disagree, the database's is the one every node reads. SQLite serves one node
and uses this process's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.store import outbox, queue
from jumbe.store.schema import nodes


@dataclass(frozen=True, slots=True)
class Takeover:
    """What was released of the nodes found dead."""

    nodes: tuple[str, ...]
    messages: int
    callbacks: int


def database_now(conn: Connection) -> datetime:
    """The cluster's clock: the database's on PostgreSQL, this process's on SQLite."""
    if conn.dialect.name == "postgresql":
        found: datetime = conn.execute(select(func.now())).scalar_one()
        return found
    return utcnow()


def register(conn: Connection, *, node_id: str, now: datetime) -> None:
    """This node starts (again): its row says since when, and beats now."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(nodes).values(node_id=node_id, started_at=now, heartbeat_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[nodes.c.node_id], set_={"started_at": now, "heartbeat_at": now}
        )
    )


def beat(conn: Connection, *, node_id: str, now: datetime) -> bool:
    """Record that this node lives; False when its row was gone (others found it dead)."""
    return bool(
        conn.execute(
            update(nodes).where(nodes.c.node_id == node_id).values(heartbeat_at=now)
        ).rowcount
    )


def live(conn: Connection, *, now: datetime, dead_after: timedelta) -> list[str]:
    """The nodes that beat within ``dead_after``, by id."""
    query = (
        select(nodes.c.node_id)
        .where(nodes.c.heartbeat_at >= now - dead_after)
        .order_by(nodes.c.node_id)
    )
    return list(conn.execute(query).scalars())


def take_over(conn: Connection, *, now: datetime, dead_after: timedelta) -> Takeover:
    """Release the leases of every node silent for ``dead_after`` and forget it.

    The dead rows are locked (``SKIP LOCKED``): two survivors never release the
    same node's leases twice, and one that finds the rows taken leaves them.
    """
    found = (
        select(nodes.c.node_id)
        .where(nodes.c.heartbeat_at < now - dead_after)
        .order_by(nodes.c.node_id)
    )
    if conn.dialect.name == "postgresql":
        found = found.with_for_update(skip_locked=True)
    dead = tuple(conn.execute(found).scalars())
    return release_all(conn, dead, now=now)


def release_all(conn: Connection, dead: Sequence[str], *, now: datetime) -> Takeover:
    """Every lease of ``dead`` nodes due again now, and the nodes forgotten."""
    messages = callbacks = 0
    for node_id in dead:
        messages += queue.release(conn, owner=node_id, now=now)
        callbacks += outbox.release(conn, owner=node_id, now=now)
    if dead:
        conn.execute(delete(nodes).where(nodes.c.node_id.in_(list(dead))))
    return Takeover(nodes=tuple(dead), messages=messages, callbacks=callbacks)


def leave(conn: Connection, *, node_id: str) -> Takeover:
    """A clean stop: whatever this node still holds is due for the others now, and it is
    no longer counted among the live."""
    return release_all(conn, [node_id], now=database_now(conn))
