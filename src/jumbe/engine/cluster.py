"""This node's heartbeat, the takeover of a dead node's leases, and bind slots.

Every ``interval`` seconds the node writes its beat and looks for nodes whose
last beat is older than ``dead_after``; their leased messages and callbacks are
released in the same transaction and the dispatcher and webhook sender are
woken, so a killed node's work is resent within about ``dead_after + interval``
seconds (the issue's target: 15 s) instead of when its leases run out (minutes).

Each beat also shares out the carriers' bind slots among the live nodes (see
``store.nodes.lease_binds``) and tells each connector which slots to bind and at
what share of the TPS. A node that cannot beat for ``dead_after`` closes its binds:
the others are about to take its slots.

A node that finds its own row gone was taken for dead (it stalled longer than
``dead_after``): what it still holds may be sent by another node as well, the
same at-least-once window as a restart. It says so in the log and registers
again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Protocol

from sqlalchemy.engine import Connection

from jumbe.engine.background import LoopTask
from jumbe.store import nodes
from jumbe.store.database import NODES_LOCK, Database, serialise

log = logging.getLogger(__name__)


class BindHolder(Protocol):
    """A connector as the heartbeat sees it: slots to bind, at a share of the TPS."""

    @property
    def bind_slots(self) -> int: ...

    @property
    def held(self) -> frozenset[int]: ...

    def hold(self, slots: frozenset[int], *, share: float) -> None: ...


class Heartbeat:
    def __init__(
        self,
        db: Database,
        *,
        node_id: str,
        interval: float,
        dead_after: float,
        links: Mapping[str, BindHolder] | None = None,
        on_takeover: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.links = links or {}
        self.node_id = node_id
        self.interval = interval
        self.dead_after = timedelta(seconds=dead_after)
        self.on_takeover = on_takeover
        self.live_nodes: tuple[str, ...] = (node_id,)
        self.binds: dict[str, nodes.Binds] = {}
        self._loop = LoopTask("heartbeat")
        self._last_beat = time.monotonic()

    async def start(self) -> None:
        """Register this node (before it claims anything) and bind its share of the
        carriers' slots, then beat in the background."""
        counts = {name: link.bind_slots for name, link in self.links.items()}

        def register(conn: Connection) -> None:
            nodes.register(conn, node_id=self.node_id, now=nodes.database_now(conn))
            nodes.add_slots(conn, counts)

        await self.db.write(register)
        await self.beat()
        self._loop.start(self._run())

    async def stop(self) -> None:
        """Stop beating and leave the cluster, handing back what this node still holds
        (called after the workers stopped)."""
        await self._loop.stop()
        try:
            await self.db.write(lambda conn: nodes.leave(conn, node_id=self.node_id))
        except Exception:  # the others will find it dead instead
            log.exception("heartbeat: could not leave the cluster cleanly")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat: a beat failed; will retry")
                if not self.alive():
                    self._unbind_all()

    def alive(self) -> bool:
        """Whether this node's last beat is recent enough that no other node takes it for
        dead: until it beats again it should claim nothing new."""
        return time.monotonic() - self._last_beat <= self.dead_after.total_seconds()

    def _unbind_all(self) -> None:
        """The others take this node for dead and its slots for free: close its binds."""
        if any(link.held for link in self.links.values()):
            log.error("heartbeat: no beat for %ss; closing this node's binds", self.dead_after)
        for link in self.links.values():
            link.hold(frozenset(), share=0.0)

    async def beat(self) -> nodes.Takeover:
        """One beat: this node lives; the dead give their leases back."""

        # a node that was itself stalled past the bound (a paused VM, a blocked loop) sees
        # every other beat as old: it beats, but judges no one dead this time
        judge = self.alive()
        in_use = {name: link.held for name, link in self.links.items()}
        counts = {name: link.bind_slots for name, link in self.links.items()}

        def one_beat(
            conn: Connection,
        ) -> tuple[bool, nodes.Takeover, list[str], dict[str, nodes.Binds]]:
            serialise(conn, NODES_LOCK)  # beats one at a time: slots change hands in order
            now = nodes.database_now(conn)
            known = nodes.beat(conn, node_id=self.node_id, now=now)
            if not known:
                nodes.register(conn, node_id=self.node_id, now=now)
            taken = (
                nodes.take_over(conn, now=now, dead_after=self.dead_after)
                if judge
                else nodes.Takeover(nodes=(), messages=0, callbacks=0)
            )
            live = nodes.live(conn, now=now, dead_after=self.dead_after)
            binds = nodes.lease_binds(
                conn, node_id=self.node_id, live=live, in_use=in_use, counts=counts
            )
            return known, taken, live, binds

        known, taken, live, binds = await self.db.write(one_beat)
        self._last_beat = time.monotonic()
        self.live_nodes = tuple(live)
        self.binds = binds
        for name, held in binds.items():
            self.links[name].hold(held.slots, share=held.share)
        if not known:
            log.error(
                "heartbeat: node %s was taken for dead (no beat for %ss); what it had in"
                " flight may be sent again by another node",
                self.node_id,
                self.dead_after.total_seconds(),
            )
        if taken.nodes:
            log.warning(
                "heartbeat: node(s) %s stopped beating; took over %d message(s) and %d callback(s)",
                ", ".join(taken.nodes),
                taken.messages,
                taken.callbacks,
            )
            self.on_takeover()
        return taken
