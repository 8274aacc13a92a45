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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.store import outbox, queue
from jumbe.store.schema import bind_slots, nodes, smpp_outbox, smpp_sessions


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
    # sessions a previous life of this node left: none of them is bound any more, and
    # what their receivers held is due for whichever session binds next
    conn.execute(delete(smpp_sessions).where(smpp_sessions.c.node_id == node_id))
    _release_deliveries(conn, [node_id])


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
        conn.execute(
            update(bind_slots).where(bind_slots.c.node_id.in_(list(dead))).values(node_id=None)
        )
        conn.execute(delete(smpp_sessions).where(smpp_sessions.c.node_id.in_(list(dead))))
        _release_deliveries(conn, dead)
        conn.execute(delete(nodes).where(nodes.c.node_id.in_(list(dead))))
    return Takeover(nodes=tuple(dead), messages=messages, callbacks=callbacks)


def _release_deliveries(conn: Connection, owners: Sequence[str]) -> None:
    """Receipts and MO the owners' SMPP receivers held: due for their next sessions now."""
    conn.execute(
        update(smpp_outbox)
        .where(smpp_outbox.c.status == "pending", smpp_outbox.c.lease_owner.in_(list(owners)))
        .values(lease_until=None, lease_owner=None)
    )


def leave(conn: Connection, *, node_id: str) -> Takeover:
    """A clean stop: whatever this node still holds is due for the others now, and it is
    no longer counted among the live."""
    return release_all(conn, [node_id], now=database_now(conn))


@dataclass(frozen=True, slots=True)
class Binds:
    """One connector's slots as this node holds them after a beat."""

    slots: frozenset[int]
    total: int

    @property
    def share(self) -> float:
        return len(self.slots) / self.total


def add_slots(conn: Connection, counts: Mapping[str, int]) -> None:
    """Make sure each connector's slots exist (the first node to start makes them)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [{"connector": name, "slot": i} for name, n in counts.items() for i in range(n)]
    if rows:
        conn.execute(insert(bind_slots).values(rows).on_conflict_do_nothing())


def lease_binds(
    conn: Connection,
    *,
    node_id: str,
    live: Sequence[str],
    in_use: Mapping[str, frozenset[int]],
    counts: Mapping[str, int],
) -> dict[str, Binds]:
    """This node's fair share of each connector's slots, taken from the free ones.

    Of n slots and L live nodes (by id), the node ranked r holds n // L, one more
    when r < n % L. Slots over its share are given up only once their bind is
    closed (not in ``in_use``): until then they stay this node's, and the caller
    closes them. A connector's rows are locked while they are shared out, so two
    nodes never take the same slot.
    """
    rank = live.index(node_id) if node_id in live else len(live)
    peers = max(len(live), rank + 1)
    held: dict[str, Binds] = {}
    for name, n in counts.items():
        query = (
            select(bind_slots.c.slot, bind_slots.c.node_id)
            .where(bind_slots.c.connector == name, bind_slots.c.slot < n)
            .order_by(bind_slots.c.slot)
            .with_for_update()
        )
        rows = conn.execute(query).all()
        share = n // peers + (1 if rank < n % peers else 0)
        mine = [r.slot for r in rows if r.node_id == node_id]
        keep = set(mine[:share])
        surplus = set(mine) - keep
        closed = surplus - in_use.get(name, frozenset())
        free = [r.slot for r in rows if r.node_id is None]
        take = set(free[: share - len(keep)])
        if closed:
            _set_holder(conn, name, closed, None)
        if take:
            _set_holder(conn, name, take, node_id)
        # still open surplus slots remain held until their binds are closed
        held[name] = Binds(slots=frozenset(keep | take), total=n)
    return held


def _set_holder(conn: Connection, connector: str, slots: set[int], node_id: str | None) -> None:
    conn.execute(
        update(bind_slots)
        .where(bind_slots.c.connector == connector, bind_slots.c.slot.in_(sorted(slots)))
        .values(node_id=node_id)
    )
