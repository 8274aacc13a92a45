"""Engines, transactions and migrations for SQLite (embedded default) and PostgreSQL.

SQLite allows one writer at a time. Writes therefore go through a dedicated
engine with a single connection whose transactions start with BEGIN IMMEDIATE:
the write lock is taken up front, so a transaction never fails half-way with
SQLITE_BUSY when it upgrades from reading to writing, and other processes (the
``jumbe`` CLI while the server runs) wait on ``busy_timeout`` instead.
Reads use a separate pool and, thanks to WAL, never wait for the writer.
On PostgreSQL one pool serves both; row locks do the serialising.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                from pathlib import Path

                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.writer = _sqlite_engine(url, sqlite_synchronous, pool_size=1, begin="IMMEDIATE")
            self.reader = _sqlite_engine(url, sqlite_synchronous, pool_size=4, begin="DEFERRED")
        elif self.dialect == "postgresql":
            self.writer = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.reader = self.writer
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        async with self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read-only view that is consistent across the statements of the block."""
        async with self.reader.connect() as conn, conn.begin():
            yield conn

    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT with this dialect's ON CONFLICT clauses available."""
        dialect = sqlite if self.dialect == "sqlite" else postgresql
        return dialect.insert(table)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision.

        Runs inside one write transaction, so two processes starting at once
        (server and CLI) apply it once: the second waits, then finds it done.
        On SQLite, altering a table means recreating it, which foreign keys would
        forbid while child rows exist; so (as SQLite's ALTER TABLE guide says)
        migrations run with them off and the result is checked before commit.
        """
        if self.dialect == "postgresql":
            async with self.writer.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(7305410)"))
                await conn.run_sync(_upgrade)
            return
        engine = _sqlite_engine(
            self.url, "FULL", pool_size=1, begin="IMMEDIATE", foreign_keys=False
        )
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            await engine.dispose()

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    location = resources.files("jumbe.store") / "migrations"
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _sqlite_engine(
    url: str, synchronous: str, *, pool_size: int, begin: str, foreign_keys: bool = True
) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; "begin" below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {begin}")

    return engine
