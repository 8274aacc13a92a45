"""Two nodes on one PostgreSQL database, one killed mid-stream: the survivor takes over
the dead node's leases within the failover bound, every acknowledged message ends
final, none is charged twice and resubmissions stay inside the at-least-once window.

Real processes: two ``jumbe serve`` and the carrier (``jumbe simulate carrier``, which
outlives the kill and logs every submit_sm with its time). Also, on both backends,
the heartbeat's takeover itself: a node silent past the bound gives its leases back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.engine.cluster import Heartbeat
from jumbe.services import Services
from jumbe.services.messaging import SendRequest
from jumbe.store import queue
from jumbe.store.database import Database
from jumbe.store.schema import messages, nodes, smpp_outbox
from tests.conftest import wait_until
from tests.integration.test_crash_recovery import (
    all_final,
    carrier,  # noqa: F401 (a fixture)
    charged_once_and_resent_within,
    free_port,
    start_server,
    wait_ready,
)

MESSAGES = 400
WINDOW = 10  # the connector's default window, per bind: a node with one bind resends that many
CARRIER_TPS = 25  # per node
FAILOVER = 15.0  # the target, from the kill to the first resubmission


async def test_a_silent_node_gives_its_leases_back(services: Services, db: Database) -> None:
    """The takeover on its own: the ghost's leased message is due again and the ghost
    forgotten; a live node's lease is left alone; a clean stop leaves the cluster."""
    now = utcnow()
    long_ago = now - timedelta(seconds=60)
    account = (await services.accounts.create_account("Acme")).account_id
    await services.billing.credit(account, 10)
    for text in ("one", "two"):
        await services.messaging.send(account, SendRequest("+254712345678", text))

    def setup(conn: Connection) -> dict[str, int]:
        conn.execute(
            insert(nodes),
            [
                {"node_id": "ghost", "started_at": long_ago, "heartbeat_at": long_ago},
                {"node_id": "alive", "started_at": now, "heartbeat_at": now},
            ],
        )
        held = {}
        for owner in ("ghost", "alive"):
            (row,) = queue.claim(
                conn,
                owner=owner,
                include=None,
                limit=1,
                now=utcnow(),
                lease=timedelta(minutes=5),
                skip_locked=False,
            )
            held[owner] = row.id
        conn.execute(  # a receipt the ghost's SMPP receiver was being handed
            insert(smpp_outbox).values(
                account_id=account,
                message_id=held["ghost"],
                kind="receipt",
                status="pending",
                attempts=0,
                next_attempt_at=now,
                lease_until=now + timedelta(minutes=2),
                lease_owner="ghost",
                expires_at=now + timedelta(hours=72),
                created_at=now,
            )
        )
        return held

    held = await db.write(setup)
    woken: list[bool] = []
    beat = Heartbeat(
        db, node_id="me", interval=1, dead_after=10, on_takeover=lambda: woken.append(True)
    )
    await beat.start()
    assert beat.live_nodes == ("alive", "me")
    assert beat.alive()  # it beat just now: its dispatcher may claim
    await beat.stop()

    def leases(conn: Connection) -> dict[int, tuple[str | None, bool]]:
        rows = conn.execute(select(messages).where(messages.c.id.in_(list(held.values()))))
        return {r.id: (r.lease_owner, r.next_attempt_at <= utcnow()) for r in rows}

    found = await db.read(leases)
    assert found[held["ghost"]] == (None, True)
    assert found[held["alive"]] == ("alive", False)
    owed = await db.read(lambda conn: conn.execute(select(smpp_outbox)).one())
    assert (owed.lease_owner, owed.lease_until) == (None, None)
    left = await db.read(lambda conn: list(conn.execute(select(nodes.c.node_id)).scalars()))
    assert left == ["alive"]
    assert woken == [True]


async def test_kill_one_of_two_nodes_mid_stream(
    carrier: tuple[int, int, Path],  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a cluster needs PostgreSQL")
    smpp_port, _control, log = carrier
    upstream = f"smpp://crash:test-password@127.0.0.1:{smpp_port}"

    def node_env(name: str) -> dict[str, str]:
        return {
            **os.environ,
            "JUMBE_DATA_DIR": str(tmp_path / name),
            "JUMBE_DATABASE_URL": database_url,
            "JUMBE_HTTP_PORT": str(free_port()),
            "JUMBE_SMPP_PORT": str(free_port()),
            # two bind slots, one per node, each at half the TPS: slower than the nodes
            # accept, so each holds leases when one is killed
            "JUMBE_CONNECTORS": json.dumps(
                [{"name": "upstream", "url": upstream, "tps": 2 * CARRIER_TPS, "binds": 2}]
            ),
            "JUMBE_NODE_ID": name,
            "JUMBE_DISPATCH_POLL_INTERVAL": "0.2",
        }

    env_a, env_b = node_env("node-a"), node_env("node-b")
    base_a = f"http://127.0.0.1:{env_a['JUMBE_HTTP_PORT']}"
    base_b = f"http://127.0.0.1:{env_b['JUMBE_HTTP_PORT']}"
    node_a = start_server(env_a)
    await wait_ready(base_a, node_a, env_a)  # the demo account, made once, by node a
    node_b = start_server(env_b)
    try:
        await wait_ready(base_b, node_b, env_b)

        async def one_bind_each() -> bool:
            # node a bound both slots while alone; the at-least-once window is per bind
            async with httpx.AsyncClient() as http:
                links = [(await http.get(f"{b}/status/carriers")).json() for b in (base_a, base_b)]
            return [link["connectors"][0]["binds_up"] for link in links] == [1, 1]

        await wait_until(one_bind_each, within=20, what="the bind slots shared")
        await _kill_and_fail_over(node_a, (base_a, base_b), env_a, env_b, database_url, log)
    finally:
        if node_a.poll() is None:
            node_a.kill()
        node_b.send_signal(signal.SIGTERM)
        assert node_b.wait(30) == 0, "a clean shutdown exits 0"


async def _kill_and_fail_over(
    node_a: subprocess.Popen[bytes],
    bases: tuple[str, str],
    env_a: dict[str, str],
    env_b: dict[str, str],
    database_url: str,
    log: Path,
) -> None:
    token = json.loads((Path(env_a["JUMBE_DATA_DIR"]) / "demo-credentials.json").read_text())[
        "api_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    db = Database(database_url)
    try:
        async with (
            httpx.AsyncClient(base_url=bases[0], headers=headers, timeout=30) as api_a,
            httpx.AsyncClient(base_url=bases[1], headers=headers, timeout=30) as api_b,
        ):
            limits = asyncio.Semaphore(40)

            async def send(i: int) -> str | None:
                api = (api_a, api_b)[i % 2]
                async with limits:
                    try:
                        answer = await api.post(
                            "/api/v1/messages",
                            json={"to": f"+2547140{i:05d}", "message": f"failover {i}"},
                        )
                    except httpx.HTTPError:
                        return None  # not acknowledged (node a died): owed nothing
                return answer.json()["data"]["uuid"] if answer.status_code == 200 else None

            sending = [asyncio.create_task(send(i)) for i in range(MESSAGES)]

            def submitted() -> int:
                return len(log.read_text().splitlines()) if log.exists() else 0

            await wait_until(lambda: submitted() >= 60, within=30, what="submits to start")
            node_a.send_signal(signal.SIGKILL)
            killed_at = time.time()
            node_a.wait(10)
            held = await db.read(
                lambda conn: set(
                    conn.execute(
                        select(messages.c.recipient).where(
                            messages.c.lease_owner == "node-a", messages.c.status == "accepted"
                        )
                    ).scalars()
                )
            )
            acknowledged = [u for u in await asyncio.gather(*sending) if u]
            assert held, "node a held no lease at the kill: nothing to take over"

            async def resubmitted() -> float | None:
                text = await asyncio.to_thread(log.read_text)
                lines = [json.loads(x) for x in text.splitlines()]
                times = [
                    x["received_at"]
                    for x in lines
                    if x["received_at"] > killed_at and x["destination_addr"] in held
                ]
                return min(times) - killed_at if times else None

            first = await wait_until(resubmitted, within=FAILOVER + 15, what="a resubmission")
            assert first <= FAILOVER, f"the survivor resubmitted {first:.1f}s after the kill"

            finals = await all_final(api_b, acknowledged, within=90)
            assert {m["state"] for m in finals} == {"delivered"}
            stored = (await api_b.get("/api/v1/messages")).json()["data"]["total"]
    finally:
        await db.dispose()

    duplicates = await charged_once_and_resent_within(env_b, log, stored, window=WINDOW)
    print(
        f"acknowledged={len(acknowledged)} stored={stored} held_by_dead={len(held)}"
        f" first_resubmission={first:.1f}s resubmitted={duplicates}"
    )


class _Link:
    """A connector as the heartbeat sees it, recording what it is told to hold."""

    bind_slots = 2

    def __init__(self) -> None:
        self.held: frozenset[int] = frozenset({0, 1})

    def hold(self, slots: frozenset[int], *, share: float) -> None:
        self.held = slots


class _DatabaseDown:
    async def write(self, work: object) -> None:
        raise ConnectionError("the database is unreachable")


async def test_a_node_that_cannot_beat_stops_claiming_and_closes_its_binds() -> None:
    """The others will take it for dead and its slots for free: it must not keep them."""
    link = _Link()
    beat = Heartbeat(
        _DatabaseDown(),  # type: ignore[arg-type]
        node_id="cut-off",
        interval=0.05,
        dead_after=0.2,
        links={"carrier": link},
    )
    beat._loop.start(beat._run())
    try:
        assert beat.alive()
        await wait_until(lambda: not link.held, within=5, what="the binds closed")
        assert not beat.alive()  # so its dispatcher claims nothing new
    finally:
        await beat._loop.stop()
