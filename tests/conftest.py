"""Shared fixtures: real databases (SQLite files; PostgreSQL when configured).

Tests that take ``database_url`` run once on SQLite and, when
JUMBE_TEST_POSTGRES_URL is set, once more on a fresh PostgreSQL database that
is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from jumbe.app import Jumbe, event_handlers
from jumbe.faces.smpp.receivers import BoundReceivers
from jumbe.services import Services
from jumbe.services.tokens import TokenView
from jumbe.services.webhooks import NewCallback
from jumbe.settings import Settings, load_settings
from jumbe.store.database import Database

POSTGRES_URL = os.environ.get("JUMBE_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def _postgres_admin_dsn() -> str:
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jumbe.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("JUMBE_TEST_POSTGRES_URL is not set")
    import asyncpg

    name = f"jumbe_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_postgres_admin_dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(_postgres_admin_dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        http_port=0,
        simulator_port=0,
        smpp_port=0,
        node_id="test-node",
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


class UnsentCallbacks:
    """No webhook sender runs beside bare services: callback rows stay in the outbox."""

    owner = "test-node"

    def __init__(self) -> None:
        self.offered: list[NewCallback] = []

    def offer(self, callbacks: Sequence[NewCallback]) -> None:
        self.offered.extend(callbacks)


@pytest.fixture
async def services(db: Database, settings: Settings) -> AsyncIterator[Services]:
    events = event_handlers(webhooks=UnsentCallbacks(), receivers=BoundReceivers())
    built = Services.build(db, settings, events=events)
    await built.numbering.refresh(force=True)
    built.messaging.start()
    yield built
    await built.messaging.stop()


@contextlib.asynccontextmanager
async def running(settings: Settings, **updates: Any) -> AsyncIterator[Jumbe]:
    """A started server on the settings, quick to sweep and receipt, with ``updates``."""
    fast = settings.model_copy(
        update={
            "sweep_interval": 0.2,
            "dispatch_poll_interval": 0.2,
            "simulator": settings.simulator.model_copy(update={"receipt_delay": 0.1}),
            **updates,
        }
    )
    app = Jumbe(fast)
    await app.start()
    try:
        await wait_until(lambda: any(c.ready for c in app.connectors.values()), what="bound")
        yield app
    finally:
        await app.stop()


@pytest.fixture
async def jumbe(settings: Settings) -> AsyncIterator[Jumbe]:
    async with running(settings) as app:
        yield app


@pytest.fixture
async def demo(jumbe: Jumbe) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as the demo account created at first start."""
    assert jumbe.demo is not None
    headers = {"Authorization": f"Bearer {jumbe.demo.api_token}"}
    async with httpx.AsyncClient(base_url=jumbe.base_url, headers=headers, timeout=10) as client:
        yield client


async def demo_token(
    jumbe: Jumbe, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[str, TokenView]:
    """A new token of the demo account, granted by its default (every scope) token."""
    assert jumbe.demo is not None
    tokens = jumbe.services.tokens
    grantor = await tokens.authenticate_token(jumbe.demo.api_token, client="test")
    return await tokens.create_token(grantor, name, scopes, expires_at)


async def wait_until(
    check: Callable[[], Any], *, within: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def final_status(
    client: httpx.AsyncClient, uuid: str, within: float = 10.0
) -> dict[str, Any]:
    """Follow a message through the REST API until it reaches a final state."""

    async def done() -> dict[str, Any] | None:
        data = (await client.get(f"/api/v1/messages/{uuid}")).json()["data"]
        return data if data["state"] not in ("accepted", "sent") else None

    return await wait_until(done, within=within, what=f"message {uuid} to finish")
