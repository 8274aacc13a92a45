"""Several nodes on one database, in one process: what they must share they share.

Each node is a whole ``Jumbe`` with its own data dir, ports and node id, on the one
database (PostgreSQL in production; SQLite too where the point is only the
database's serialising).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from jumbe.app import Jumbe
from jumbe.settings import Settings
from jumbe.store.schema import accounts
from tests.integration.test_crash_recovery import free_port


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
