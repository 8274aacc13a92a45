"""Contacts import: a million-row CSV through POST /api/v1/contacts/import.

    make bench-import [ARGS="--rows 1000000"]

A fresh Jumbe server in its own process (as ``make run`` starts it) gets a
CSV of Kimisms' shape (``number,name,amount``) with numbers in all four forms
(254…, 07…, 7…, +254…) on Safaricom, Airtel and Telkom, one line in a thousand
invalid and one in a hundred a repeat, uploaded into a named group with
duplicates removed. Reported: seconds from the first byte sent until the
upload's status is completed, rows per second, the server's peak resident
memory throughout, and the upload's own counts. The target: 1,000,000 rows in
60 s with the server under 500 MB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import Sampler, carrier, jumbe, report

PREFIXES = ("712", "722", "733", "110", "757", "770", "799", "101")
TARGET_SECONDS = 60
TARGET_RSS_MB = 500


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("number,name,amount\n")
        for n in range(rows):
            if n % 1000 == 999:
                out.write(f"12{n},Invalid,0\n")
                continue
            serial = n - 1 if n % 100 == 50 else n  # a repeat of the line before
            national = f"{PREFIXES[serial % len(PREFIXES)]}{serial % 1_000_000:06d}"
            form = serial % 4
            number = (
                f"254{national}",
                f"0{national}",
                national,
                f"+254{national}",
            )[form]
            out.write(f"{number},Customer {serial},{serial % 5000}\n")


def main(args: argparse.Namespace) -> None:
    csv = Path(tempfile.mkdtemp(prefix="jumbe-import-")) / "contacts.csv"
    write_csv(csv, args.rows)
    with carrier() as smsc, jumbe(smsc, units=0) as node:
        headers = {"Authorization": f"Bearer {node.credentials['api_token']}"}
        with (
            Sampler(node.process.pid) as sampler,
            httpx.Client(base_url=node.base_url, headers=headers, timeout=600) as client,
        ):
            started = time.monotonic()
            with csv.open("rb") as fh:
                answer = client.post(
                    "/api/v1/contacts/import",
                    files={"file": ("contacts.csv", fh, "text/csv")},
                    data={"group": "Benchmark", "remove_duplicates": "true"},
                )
            answer.raise_for_status()
            uuid = answer.json()["data"]["uuid"]
            accepted_after = time.monotonic() - started
            while True:
                status = client.get(f"/api/v1/contacts/uploads/{uuid}").json()["data"]
                if status["status"] in ("completed", "failed"):
                    break
                time.sleep(0.2)
            seconds = time.monotonic() - started
    peak_mb = round(sampler.peak_rss / 2**20)
    report(
        "contacts_import",
        {
            "rows": args.rows,
            "file_mb": round(csv.stat().st_size / 2**20, 1),
            "upload_answered_s": round(accepted_after, 2),
            "completed_s": round(seconds, 2),
            "rows_per_s": round(args.rows / seconds),
            "server_peak_rss_mb": peak_mb,
            "status": status["status"],
            "rows_read": status["rows_read"],
            "accepted": status["accepted"],
            "rejected": status["rejected"],
            "target": f"{TARGET_SECONDS} s, {TARGET_RSS_MB} MB",
            "met": seconds <= TARGET_SECONDS and peak_mb < TARGET_RSS_MB,
        },
    )
    csv.unlink()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    main(parser.parse_args())
