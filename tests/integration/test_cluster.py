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

from sqlalchemy import func, select

from jumbe.app import Jumbe
from jumbe.settings import Settings
from jumbe.store.schema import accounts


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
