"""Scenario 4, SIM portal: a million SIMs; allsims pages and a year of activation trends.

    make bench-simportal [ARGS="--sims 1000000"]

A fresh Jumbe; the SIMs are imported with ``jumbe sims import`` from a generated
CSV (timed), and a year of lifecycle history is written beside them (one
activation per SIM on a day of the last 365, as a fleet rolled out over a year
would have): fixture data, inserted straight into the database. Then, over real
HTTP with a Daraja OAuth token: allsims pages at random positions across the
whole inventory, and getactivationtrends for the whole year.

allsims takes an offset (``startAtIndex``), which SQLite walks: a page costs in
proportion to its position. So beside the random pages the scenario times pages
at fixed positions (first, a quarter, half, three quarters, last), which shows
how much of a page is the walk and how much the fixed cost of a request.
``--profile PATH`` records the server with py-spy during the random pages
(``.svg``: flame graph, ``.json``: speedscope, else py-spy's raw collapsed stacks).
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import Contention, Sampler, carrier, jumbe, percentiles, report


def write_csv(path: Path, count: int) -> None:
    with path.open("w") as out:
        out.write("iccid,imsi,msisdn,asset_name\n")
        for i in range(count):
            out.write(f"89254021{i:011d},63902{i:010d},3{i:011d},Tracker{i:07d}\n")


def write_history(database: Path, account_id: int, days: int = 365) -> int:
    """One activation per SIM, spread over the last ``days`` days (Kenyan days)."""
    today = date.today()
    rng = random.Random(7)
    db = sqlite3.connect(database, timeout=60)
    sim_ids = [
        row[0] for row in db.execute("SELECT id FROM sims WHERE account_id = ?", (account_id,))
    ]
    rows = []
    for sim_id in sim_ids:
        day = today - timedelta(days=rng.randrange(days))
        at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        rows.append(
            (account_id, sim_id, "idle", "active", "bench", int(day.strftime("%Y%m%d")),
             at.replace(tzinfo=None).isoformat(" ", "microseconds"))
        )  # fmt: skip
    db.executemany(
        "INSERT INTO sim_events (account_id, sim_id, from_status, to_status, actor, day,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()
    return len(rows)


@contextmanager
def profiled(pid: int, path: str | None) -> Iterator[None]:
    """py-spy recording ``pid`` (all threads) while the block runs, if ``path`` is given."""
    if path is None:
        yield
        return
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(Path(path).suffix, "raw")
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    recorder = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "200", "--threads", "--nonblocking",
         "--format", fmt, "--output", path],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1)  # attached before the first request
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(60)


def by_position(page: Callable[[int], float], sims: int, size: int, repeat: int) -> dict:
    """p50 of ``repeat`` pages at the first, 1/4, 1/2, 3/4 and last position."""
    last = max(0, sims - size)
    positions = [0, sims // 4, sims // 2, 3 * sims // 4, last]
    return {str(at): percentiles([page(at) for _ in range(repeat)])["p50_ms"] for at in positions}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--trends", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20, help="pages at each fixed position")
    parser.add_argument("--profile", metavar="PATH", help="py-spy the server during the pages")
    args = parser.parse_args()
    with carrier() as smsc, jumbe(smsc, units=0) as node:
        creds = node.credentials
        scratch = Path(tempfile.mkdtemp(prefix="jumbe-bench-csv-"))
        csv = scratch / "sims.csv"
        write_csv(csv, args.sims)
        started = time.monotonic()
        with Contention() as import_others:
            node.cli("sims", "import", str(csv), "--vpn-group", creds["vpn_group"])
        import_seconds = time.monotonic() - started
        shutil.rmtree(scratch)
        history = write_history(node.data_dir / "jumbe.db", creds["account_id"])
        client = httpx.Client(base_url=node.base_url, timeout=60)
        token = client.get(
            "/oauth/v1/generate?grant_type=client_credentials",
            auth=(creds["daraja_consumer_key"], creds["daraja_consumer_secret"]),
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"

        def page(position: int) -> float:
            body = {
                "vpnGroup": [creds["vpn_group"]],
                "startAtIndex": str(position),
                "pageSize": str(args.page_size),
                "username": creds["username"],
            }
            t0 = time.perf_counter()
            answer = client.post("/simportal/v1/allsims", json=body)
            elapsed = time.perf_counter() - t0
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["body"]["Desc"]) > 0
            return elapsed

        rng = random.Random(1)
        with Sampler(node.process.pid) as busy, Contention() as others:
            with profiled(node.process.pid, args.profile):
                page_times = [page(rng.randrange(args.sims)) for _ in range(args.pages)]
            positioned = by_position(page, args.sims, args.page_size, args.repeat)
            year_ago = (date.today() - timedelta(days=364)).strftime("%Y%m%d")
            trend_times = []
            for _ in range(args.trends):
                t0 = time.perf_counter()
                answer = client.post(
                    "/simportal/v1/getactivationtrends",
                    json={
                        "vpnGroup": creds["vpn_group"],
                        "startDate": year_ago,
                        "stopDate": date.today().strftime("%Y%m%d"),
                        "username": creds["username"],
                    },
                )
                trend_times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
            trend = answer.json()["body"]["body"][0]
            assert sum(int(n) for n in trend["activeTrend"]) == history
    report(
        "sim_portal",
        {
            "command": "make bench-simportal ARGS=" + repr(" ".join(sys.argv[1:])),
            "sims": args.sims,
            "import_seconds": round(import_seconds, 1),
            "imported_per_second": round(args.sims / import_seconds, 1),
            "lifecycle_events_in_history": history,
            "allsims_page_size": args.page_size,
            "allsims_random_pages": percentiles(page_times),
            "allsims_p50_ms_by_position": positioned,
            "trends_days": len(trend["dates"]),
            "trends_for_a_year": percentiles(trend_times),
            "server_peak_rss_mb": round(busy.peak_rss / 2**20, 1),
            "server_cpu_percent": round(busy.cpu_percent, 1),
            # others' CPU meanwhile (100 = a core of the 2): a clean run has these near 0
            "other_processes_cpu_percent": {
                "import": round(import_others.cpu_percent, 1),
                "pages_and_trends": round(others.cpu_percent, 1),
            },
            "cpu_steal_percent": {
                "import": round(import_others.steal_percent, 1),
                "pages_and_trends": round(others.steal_percent, 1),
            },
        },
    )


if __name__ == "__main__":
    main()
