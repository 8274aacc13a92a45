"""Several nodes on one database, in one process: what they must share they share.

Each node is a whole ``Jumbe`` with its own data dir, ports and node id, on the one
database (PostgreSQL in production; SQLite too where the point is only the
database's serialising).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from jumbe.app import Jumbe
from jumbe.settings import ConnectorSettings, Settings
from jumbe.simulators.carrier import CarrierSimulator
from jumbe.smpp.client import connect
from jumbe.smpp.errors import BindFailed
from jumbe.smpp.pdu import BindTransceiver
from jumbe.smpp.session import Session
from jumbe.store.database import Database
from jumbe.store.schema import accounts, smpp_sessions
from tests.conftest import wait_until
from tests.integration.test_crash_recovery import free_port
from tests.integration.test_smpp_server import Inbox


@contextlib.asynccontextmanager
async def cluster(settings: Settings, tmp_path: Path, n: int) -> AsyncIterator[list[Jumbe]]:
    """``n`` nodes started together on the settings' database, stopped at the end."""
    nodes = [
        Jumbe(
            settings.model_copy(update={"data_dir": tmp_path / f"node-{i}", "node_id": f"node-{i}"})
        )
        for i in range(n)
    ]
    started = await asyncio.gather(*(node.start() for node in nodes), return_exceptions=True)
    try:
        failures = [s for s in started if isinstance(s, BaseException)]
        assert not failures, failures
        yield nodes
    finally:
        await asyncio.gather(*(node.stop() for node in nodes), return_exceptions=True)


async def test_nodes_started_together_make_one_demo_account(
    settings: Settings, tmp_path: Path
) -> None:
    async with cluster(settings, tmp_path, 3) as nodes:
        made = [node for node in nodes if node.demo is not None]
        assert len(made) == 1
        count = await nodes[0].db.read(
            lambda conn: conn.execute(select(func.count()).select_from(accounts)).scalar_one()
        )
        assert count == 1
        (maker,) = made
        assert (maker.settings.data_dir / "demo-credentials.json").exists()
        others = [node for node in nodes if node is not maker]
        assert not any((n.settings.data_dir / "demo-credentials.json").exists() for n in others)


async def test_ready_means_can_accept_whatever_the_carrier_links(
    settings: Settings, tmp_path: Path
) -> None:
    """A node whose carrier cannot be reached still accepts (another node may send): ready.
    A schema behind the code is not: the node must not take requests it cannot store."""
    closed = free_port()  # nothing listens: the connector never binds
    node = Jumbe(settings.model_copy(update={"upstream_smpp": f"smpp://x:y@127.0.0.1:{closed}"}))
    await node.start()
    try:
        async with httpx.AsyncClient(base_url=node.base_url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "database": "ok", "migrations": "current"}
            links = (await http.get("/status/carriers")).json()
            (upstream,) = links["connectors"]
            assert upstream["name"] == "upstream" and upstream["state"] != "bound"
            assert upstream["binds_up"] == 0
            assert (
                'jumbe_connector_binds{connector="upstream"} 0.0'
                in (await http.get("/metrics")).text
            )

            await node.db.write(
                lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '0015'"))
            )
            behind = await http.get("/readyz")
            assert behind.status_code == 503
            assert behind.json()["migrations"].startswith("at 0015, this code needs ")
    finally:
        await node.stop()


async def test_nodes_share_a_carriers_bind_slots(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    """4 bind slots, 3 nodes: never more than 4 binds open at the carrier; each node sends
    at its share of the TPS; a dead node's slots go to the living within the failover."""
    if database_url.startswith("sqlite"):
        pytest.skip("a cluster needs PostgreSQL")
    carrier = CarrierSimulator(system_id="shared", password="pw")
    await carrier.start()
    link = ConnectorSettings(
        name="carrier", url=f"smpp://shared:pw@127.0.0.1:{carrier.port}", binds=4, tps=40
    )
    beat, dead_after = 0.5, 3.0
    quick = settings.model_copy(
        update={"connectors": [link], "node_heartbeat": beat, "node_dead_after": dead_after}
    )
    most = 0
    watching = True

    async def watch() -> None:
        nonlocal most
        while watching:
            most = max(most, carrier.stats()["sessions"])
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        async with cluster(quick, tmp_path, 3) as nodes:

            def binds(of: list[Jumbe]) -> list[int]:
                return [n.connectors["carrier"].binds_up for n in of]

            await wait_until(
                lambda: sorted(binds(nodes)) == [1, 1, 2], within=10, what="the slots shared"
            )
            for node in nodes:
                held = node.heartbeat.binds["carrier"]  # type: ignore[union-attr]
                assert held.share == len(held.slots) / 4
                limiter = node.connectors["carrier"]._limiter
                assert limiter.max_rate == 40 * held.share

            # node 0 dies: no more beats, its binds gone, its slots still named in the database
            dead, living = nodes[0], nodes[1:]
            await dead.heartbeat._loop.stop()  # type: ignore[union-attr]
            for connector in dead.connectors.values():
                await connector.stop()
            died = time.monotonic()
            await wait_until(
                lambda: sum(binds(living)) == 4, within=dead_after + 10, what="slots taken over"
            )
            took = time.monotonic() - died
            assert took <= dead_after + 3 * beat + 1, f"the slots came back in {took:.1f}s"
            assert sorted(binds(living)) == [2, 2]
    finally:
        watching = False
        await watcher
        await carrier.stop()
    assert 1 <= most <= 4, f"{most} binds were open at once"


async def test_an_accounts_session_limit_holds_across_nodes(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    """5 sessions allowed: 3 on one node and 2 on another bind; a 6th is refused on
    either; a session closed on one node frees a place on the other."""
    async with cluster(settings, tmp_path, 2) as nodes:
        (maker,) = [n for n in nodes if n.demo is not None]
        demo = maker.demo
        assert demo is not None
        await maker.services.smpp_credentials.set_smpp_limits(
            demo.account_id, max_sessions=5, tps=None
        )

        async def bind(node: Jumbe) -> Session:
            return await connect(
                "127.0.0.1",
                node.smpp.ports[0],
                Inbox(),
                BindTransceiver(system_id=demo.team_code, password=demo.api_token),
                enquire_link_interval=None,
            )

        a, b = nodes
        sessions = [await bind(a) for _ in range(3)] + [await bind(b) for _ in range(2)]
        for node in (a, b):
            with pytest.raises(BindFailed):
                await bind(node)
        await sessions.pop(0).unbind()  # one of a's
        await wait_until(
            lambda: _bound_rows(b, demo.account_id, 4), within=5, what="the place freed"
        )
        sessions.append(await bind(b))
        with pytest.raises(BindFailed):
            await bind(a)
        for session in sessions:
            await session.unbind()


async def _bound_rows(node: Jumbe, account_id: int, expected: int) -> bool:
    query = select(func.count()).select_from(smpp_sessions)
    found = await node.db.read(
        lambda conn: conn.execute(
            query.where(smpp_sessions.c.account_id == account_id)
        ).scalar_one()
    )
    return bool(found == expected)


async def test_hot_tables_leave_room_for_updates_on_postgresql(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("storage parameters are PostgreSQL's")
    options = await db.read(
        lambda conn: conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'messages'")
        ).scalar_one()
    )
    assert "fillfactor=80" in options
    assert "autovacuum_vacuum_scale_factor=0.02" in options


async def test_a_token_revoked_on_one_node_is_refused_by_the_others_within_the_bound(
    settings: Settings, tmp_path: Path
) -> None:
    bound = 0.5
    quick = settings.model_copy(update={"token_cache_seconds": bound})
    async with cluster(quick, tmp_path, 2) as nodes:
        (maker,) = [n for n in nodes if n.demo is not None]
        other = next(n for n in nodes if n is not maker)
        demo = maker.demo
        assert demo is not None
        auth = {"Authorization": f"Bearer {demo.api_token}"}
        async with httpx.AsyncClient(base_url=other.base_url, headers=auth) as http:
            assert (await http.get("/api/v1/messages")).status_code == 200  # now cached there
            (token,) = await maker.services.tokens.list_tokens(demo.account_id)
            await maker.services.tokens.revoke_token(demo.account_id, token.uuid)
            revoked = time.monotonic()

            async def refused() -> bool:
                return (await http.get("/api/v1/messages")).status_code == 401

            await wait_until(refused, within=5, what="the revocation seen on the other node")
            assert time.monotonic() - revoked <= bound + 0.5
