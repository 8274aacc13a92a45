"""Scenario 4, SIM portal: a million SIMs; allsims pages and a year of activation trends.

    make bench-simportal [ARGS="--sims 1000000"]

A fresh Jumbe; the SIMs are imported with ``jumbe sims import`` from a generated
CSV (timed), and a year of lifecycle history is written beside them (one
activation per SIM on a day of the last 365, as a fleet rolled out over a year
would have): fixture data, inserted straight into the database. Then, over real
HTTP with a Daraja OAuth token: allsims pages at random positions across the
whole inventory, and getactivationtrends for the whole year.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import Sampler, carrier, jumbe, percentiles, report


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--trends", type=int, default=20)
    args = parser.parse_args()
    with carrier() as smsc, jumbe(smsc, units=0) as node:
        creds = node.credentials
        csv = Path(tempfile.mkdtemp()) / "sims.csv"
        write_csv(csv, args.sims)
        started = time.monotonic()
        node.cli("sims", "import", str(csv), "--vpn-group", creds["vpn_group"])
        import_seconds = time.monotonic() - started
        history = write_history(node.data_dir / "jumbe.db", creds["account_id"])
        client = httpx.Client(base_url=node.base_url, timeout=60)
        token = client.get(
            "/oauth/v1/generate?grant_type=client_credentials",
            auth=(creds["daraja_consumer_key"], creds["daraja_consumer_secret"]),
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        rng = random.Random(1)
        page_times = []
        with Sampler(node.process.pid) as busy:
            for _ in range(args.pages):
                body = {
                    "vpnGroup": [creds["vpn_group"]],
                    "startAtIndex": str(rng.randrange(args.sims)),
                    "pageSize": str(args.page_size),
                    "username": creds["username"],
                }
                t0 = time.perf_counter()
                answer = client.post("/simportal/v1/allsims", json=body)
                page_times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
                assert len(answer.json()["body"]["Desc"]) > 0
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
            "trends_days": len(trend["dates"]),
            "trends_for_a_year": percentiles(trend_times),
            "server_peak_rss_mb": round(busy.peak_rss / 2**20, 1),
        },
    )


if __name__ == "__main__":
    main()
