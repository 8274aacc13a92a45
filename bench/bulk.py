"""Scenario 3, bulk: a million messages through the bulk entry point campaigns use.

    make bench-bulk [ARGS="--count 1000000 --call 10000"]

Jumbe runs in this process (the bulk entry point, ``MessagingService.send_many``,
has no wire API of its own: campaigns call it), with its HTTP and SMPP faces,
dispatcher and connectors, against a carrier simulator in its own process. The
messages are handed over ``--call`` recipients at a time; each call is committed
in batches of up to 2,000 messages per transaction. Reported: time until every
message is accepted (stored and billed), time until every one has been handed
to the carrier, and the process's peak resident memory throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import func, select

from bench.harness import carrier, report
from jumbe.app import Jumbe
from jumbe.services.messaging import SendRequest
from jumbe.settings import load_settings
from jumbe.store.schema import messages


class PeakMemory:
    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())


async def main(args: argparse.Namespace) -> None:
    with carrier(receipt_delay=1.0) as smsc:
        data_dir = Path(tempfile.mkdtemp(prefix="jumbe-bulk-"))
        (data_dir / "jumbe.toml").write_text(
            f'[[connectors]]\nname = "carrier"\nurl = "{smsc.url}"\n'
            "tps = 100000\nwindow = 100\nbinds = 4\n"
        )
        settings = load_settings(
            data_dir=data_dir, http_port=0, smpp_port=0, demo_units=0, log_level="WARNING"
        )
        app = Jumbe(settings)
        memory = PeakMemory()
        memory.start()
        await app.start()
        assert app.demo is not None
        account = app.demo.account_id
        await app.services.billing.credit(account, args.count * 2)
        text = "Karibu! Ofa ya wiki hii: punguzo la 20% kwa bidhaa zote. Tuma STOP kujiondoa."
        started = time.monotonic()
        accepted = refused = 0
        for first in range(0, args.count, args.call):
            batch = [
                SendRequest(f"2547{(first + i) % 100_000_000:08d}", text, source="campaign")
                for i in range(min(args.call, args.count - first))
            ]
            for result in await app.services.messaging.send_many(account, batch):
                if hasattr(result, "uuid"):
                    accepted += 1
                else:
                    refused += 1
        accepted_after = time.monotonic() - started

        def waiting(conn: object) -> int:
            query = (
                select(func.count()).select_from(messages).where(messages.c.status == "accepted")
            )
            return int(conn.execute(query).scalar_one())  # type: ignore[attr-defined]

        while await app.db.read(waiting):  # noqa: ASYNC110 (a poll of the database)
            await asyncio.sleep(0.5)
        submitted_after = time.monotonic() - started
        await app.stop()
    report(
        "bulk",
        {
            "command": "make bench-bulk ARGS=" + repr(" ".join(sys.argv[1:])),
            "messages": args.count,
            "accepted": accepted,
            "refused": refused,
            "recipients_per_call": args.call,
            "seconds_until_all_accepted": round(accepted_after, 1),
            "accepted_per_second": round(accepted / accepted_after, 1),
            "seconds_until_all_handed_to_carrier": round(submitted_after, 1),
            "peak_rss_mb": round(memory.peak / 2**20, 1),
        },
    )


if __name__ == "__main__":
    import uvloop

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--call", type=int, default=10_000)
    uvloop.run(main(parser.parse_args()))
