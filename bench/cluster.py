"""Scenario: N nodes on one PostgreSQL database, what each message costs the database.

    make bench-cluster [ARGS="--nodes 2 --count 20000 --database-url postgresql://…"]

On one small machine PostgreSQL and the nodes share the cores, so throughput alone
cannot show scale-out. What decides it is measured instead, per message accepted
and carried to its receipt: transactions, statements (with pg_stat_statements),
rows written, WAL bytes, and the CPU of PostgreSQL and of the nodes. The capacity
model in docs/scaling.md turns these figures into messages per second per node
core and per database core.

Every node takes an equal share of the REST sends (one load generator per node, as
a load balancer would spread them); the carrier simulator runs in its own process.
A fresh database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from bench.harness import (
    Carrier,
    Node,
    Sampler,
    _env,
    _wait_ready,
    carrier,
    collect,
    free_port,
    report,
    start_generator,
    wait_drained,
)

DEFAULT_URL = os.environ.get(
    "JUMBE_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
STATS = """
SELECT xact_commit, tup_inserted, tup_updated, tup_deleted,
       pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal
FROM pg_stat_database WHERE datname = current_database()
"""
STATEMENTS = "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements"


def _dsn(url: str, database: str | None = None) -> str:
    """An asyncpg DSN from a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _snapshot(url: str, database: str) -> dict[str, int]:
    """The database's counters now; statements only where pg_stat_statements is loaded."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(url, database))
    try:
        row = dict(await conn.fetchrow(STATS))
        try:
            row["statements"] = await conn.fetchval(STATEMENTS)
        except asyncpg.PostgresError:
            row["statements"] = -1
        return row
    finally:
        await conn.close()


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (a local server)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if (process.info["name"] or "").startswith("postgres") and process.info["cpu_times"]:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


@contextlib.contextmanager
def database(url: str) -> Iterator[str]:
    name = f"jumbe_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def cluster(upstream: Carrier, url: str, nodes: int, units: int) -> Iterator[list[Node]]:
    """``nodes`` Jumbe processes on one database, sharing the carrier's binds."""
    from sqlalchemy.engine import make_url

    started: list[Node] = []
    try:
        for i in range(nodes):
            data_dir = Path(tempfile.mkdtemp(prefix=f"jumbe-bench-node{i}-"))
            (data_dir / "jumbe.toml").write_text(
                f'[[connectors]]\nname = "carrier"\nurl = "{upstream.url}"\ntps = 100000\n'
                f"window = 100\nbinds = {2 * nodes}\n"
            )
            http_port, smpp_port = free_port(), free_port()
            env = _env(
                data_dir,
                {
                    "JUMBE_DATABASE_URL": url,
                    "JUMBE_NODE_ID": f"bench-{i}",
                    "JUMBE_HTTP_PORT": str(http_port),
                    "JUMBE_SMPP_PORT": str(smpp_port),
                    "JUMBE_DEMO_UNITS": "0",
                },
            )
            with (data_dir / "serve.log").open("ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "jumbe", "serve"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            node = Node(process, data_dir, http_port, smpp_port, upstream=upstream)
            started.append(node)
            _wait_ready(node)  # one at a time: the first makes the demo account
        first = started[0]
        first.credentials = json.loads((first.data_dir / "demo-credentials.json").read_text())
        for node in started[1:]:
            node.credentials = first.credentials
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jumbe",
                "accounts",
                "credit",
                first.credentials["team_code"],
                str(units),
            ],
            env=_env(first.data_dir, {"JUMBE_DATABASE_URL": url}),
            check=True,
            capture_output=True,
        )
        assert make_url(url).get_backend_name() == "postgresql"
        yield started
    finally:
        for node in started:
            node.process.send_signal(signal.SIGTERM)
        for node in started:
            try:
                node.process.wait(60)
            except subprocess.TimeoutExpired:
                node.process.kill()


def send(nodes: list[Node], count: int, connections: int, offset: int) -> list[dict[str, Any]]:
    """``count`` REST sends spread evenly over the nodes, all at once."""
    share = count // len(nodes)
    running = [
        start_generator(
            "bench.http_load",
            "--port",
            str(node.http_port),
            "--token",
            node.credentials["api_token"],
            "--count",
            str(share),
            "--connections",
            str(connections),
            "--offset",
            str(offset + i * share),
        )
        for i, node in enumerate(nodes)
    ]
    return [collect(r) for r in running]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32, help="per node")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="an admin URL")
    args = parser.parse_args()
    with (
        database(args.database_url) as name,
        carrier(receipt_delay=0.5) as smsc,
    ):
        from sqlalchemy.engine import make_url

        url = make_url(args.database_url).set(database=name).render_as_string(False)
        with cluster(smsc, url, args.nodes, units=10 * args.count) as nodes:
            send(nodes, 1_000, args.connections, offset=0)  # warm up
            wait_drained(nodes[0])
            time.sleep(2)
            before = asyncio.run(_snapshot(args.database_url, name))
            pg_before = postgres_cpu()
            with contextlib.ExitStack() as stack:
                samplers = [stack.enter_context(Sampler(n.process.pid)) for n in nodes]
                started = time.monotonic()
                loads = send(nodes, args.count, args.connections, offset=10_000)
                accepted_in = time.monotonic() - started
                wait_drained(nodes[0])
                time.sleep(2)  # the receipts of the last submits (0.5 s) are recorded
            pg_cpu = postgres_cpu() - pg_before
            after = asyncio.run(_snapshot(args.database_url, name))
    accepted = sum(load["codes"].get("200", 0) for load in loads)
    per = max(accepted, 1)
    node_cpu = sum(s.cpu_seconds for s in samplers)
    statements = after["statements"] - before["statements"]
    report(
        f"cluster_{args.nodes}_nodes",
        {
            "command": "make bench-cluster ARGS=" + repr(" ".join(sys.argv[1:])),
            "nodes": args.nodes,
            "accepted": accepted,
            "accepted_per_second": round(accepted / accepted_in, 1),
            "per_node_per_second": [load["requests_per_second"] for load in loads],
            "transactions_per_message": round(
                (after["xact_commit"] - before["xact_commit"]) / per, 2
            ),
            "statements_per_message": round(statements / per, 2)
            if before["statements"] >= 0
            else None,
            "rows_written_per_message": round(
                sum(after[k] - before[k] for k in ("tup_inserted", "tup_updated", "tup_deleted"))
                / per,
                2,
            ),
            "wal_bytes_per_message": round((after["wal"] - before["wal"]) / per),
            "postgres_cpu_ms_per_message": round(1000 * pg_cpu / per, 3),
            "node_cpu_ms_per_message": round(1000 * node_cpu / per, 3),
            "node_cpu_percent": [round(s.cpu_percent) for s in samplers],
        },
    )


if __name__ == "__main__":
    main()
