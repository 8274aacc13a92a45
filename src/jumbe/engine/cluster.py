"""This node's heartbeat, and the takeover of a dead node's leases.

Every ``interval`` seconds the node writes its beat and looks for nodes whose
last beat is older than ``dead_after``; their leased messages and callbacks are
released in the same transaction and the dispatcher and webhook sender are
woken, so a killed node's work is resent within about ``dead_after + interval``
seconds (the issue's target: 15 s) instead of when its leases run out (minutes).

A node that finds its own row gone was taken for dead (it stalled longer than
``dead_after``): what it still holds may be sent by another node as well, the
same at-least-once window as a restart. It says so in the log and registers
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Connection

from jumbe.engine.background import LoopTask
from jumbe.store import nodes
from jumbe.store.database import Database

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        db: Database,
        *,
        node_id: str,
        interval: float,
        dead_after: float,
        on_takeover: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.node_id = node_id
        self.interval = interval
        self.dead_after = timedelta(seconds=dead_after)
        self.on_takeover = on_takeover
        self.live_nodes: tuple[str, ...] = (node_id,)
        self._loop = LoopTask("heartbeat")

    async def start(self) -> None:
        """Register this node (before it claims anything), then beat in the background."""

        def register(conn: Connection) -> None:
            nodes.register(conn, node_id=self.node_id, now=nodes.database_now(conn))

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

    async def beat(self) -> nodes.Takeover:
        """One beat: this node lives; the dead give their leases back."""

        def one_beat(conn: Connection) -> tuple[bool, nodes.Takeover, list[str]]:
            now = nodes.database_now(conn)
            known = nodes.beat(conn, node_id=self.node_id, now=now)
            if not known:
                nodes.register(conn, node_id=self.node_id, now=now)
            taken = nodes.take_over(conn, now=now, dead_after=self.dead_after)
            return known, taken, nodes.live(conn, now=now, dead_after=self.dead_after)

        known, taken, live = await self.db.write(one_beat)
        self.live_nodes = tuple(live)
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
