"""Shared fixtures: real databases (SQLite files; PostgreSQL when configured).

Tests that take ``database_url`` run once on SQLite and, when
JUMBE_TEST_POSTGRES_URL is set, once more on a fresh PostgreSQL database that
is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from jumbe.services import Services
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
        yield f"sqlite+aiosqlite:///{tmp_path / 'jumbe.db'}"
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
        node_id="test-node",
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


@pytest.fixture
async def services(db: Database, settings: Settings) -> AsyncIterator[Services]:
    built = Services.build(db, settings)
    await built.numbering.refresh(force=True)
    built.messaging.start()
    yield built
    await built.messaging.stop()
