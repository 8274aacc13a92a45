"""An SMPP load generator: windowed sessions submitting as fast (or as paced) as asked.

Runs as its own process (``python -m bench.smpp_load …``) and prints one JSON
object: throughput, per-submit latency, receipt latency when receipts were
asked for, and its own CPU use, so a saturated generator shows up in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from jumbe.smpp.client import connect
from jumbe.smpp.constants import ESM_DELIVERY_RECEIPT, Tag
from jumbe.smpp.pdu import BindTransceiver, DeliverSm, Pdu, SubmitSm, response_for
from jumbe.smpp.session import Session


@dataclass
class Tally:
    submitted_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    receipt_latencies: list[float] = field(default_factory=list)
    early_receipts: dict[str, float] = field(default_factory=dict)
    ok: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    receipts: int = 0
    first: float = 0.0
    last: float = 0.0
    last_receipt: float = 0.0


class ReceiptCounter:
    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, DeliverSm) and pdu.esm_class & ESM_DELIVERY_RECEIPT:
            now = time.perf_counter()
            message_id = pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID, b"").rstrip(b"\0").decode()
            sent = self.tally.submitted_at.pop(message_id, None)
            if sent is None:
                self.tally.early_receipts[message_id] = now
            else:
                self.tally.receipt_latencies.append(now - sent)
            self.tally.receipts += 1
            self.tally.last_receipt = now
        return response_for(pdu)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        pass


async def run_session(
    args: argparse.Namespace, count: int, rate: float | None, tally: Tally
) -> None:
    session = await connect(
        args.host,
        args.port,
        ReceiptCounter(tally),
        BindTransceiver(system_id=args.system_id, password=args.password),
        window=args.window,
        inbound_window=args.window,
        enquire_link_interval=None,
        response_timeout=60,
    )
    body = args.text.encode()
    running: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(args.window)
    started = time.perf_counter()

    async def one(i: int) -> None:
        pdu = SubmitSm(
            source_addr_ton=5,
            source_addr=args.sender,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=f"2547{(args.offset + i) % 100_000_000:08d}",
            short_message=body,
            registered_delivery=1 if args.receipts else 0,
        )
        sent = time.perf_counter()
        try:
            resp = await session.request(pdu)
        finally:
            slots.release()
        now = time.perf_counter()
        tally.latencies.append(now - sent)
        tally.last = now
        if resp.command_status == 0:
            tally.ok += 1
            message_id = resp.message_id  # type: ignore[attr-defined]
            early = tally.early_receipts.pop(message_id, None)
            if early is not None:
                tally.receipt_latencies.append(early - sent)
            elif args.receipts:
                tally.submitted_at[message_id] = sent
        else:
            tally.refused[resp.command_status] = tally.refused.get(resp.command_status, 0) + 1

    for i in range(count):
        if rate:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await slots.acquire()
        task = asyncio.create_task(one(i))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    if args.receipts:
        deadline = time.perf_counter() + args.receipt_wait
        while tally.submitted_at and time.perf_counter() < deadline:  # noqa: ASYNC110 (a poll)
            await asyncio.sleep(0.05)
    await session.unbind()


async def main(args: argparse.Namespace) -> dict[str, object]:
    tally = Tally()
    per_session = args.count // args.sessions
    rate = args.rate / args.sessions if args.rate else None
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    tally.first = time.perf_counter()
    await asyncio.gather(
        *(run_session(args, per_session, rate, tally) for _ in range(args.sessions))
    )
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = tally.last - tally.first
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "submitted": tally.ok,
        "refused": {hex(k): v for k, v in tally.refused.items()},
        "submit_seconds": round(elapsed, 3),
        "submits_per_second": round(tally.ok / elapsed, 1) if elapsed else 0.0,
        "latencies": tally.latencies,
        "receipts": tally.receipts,
        "receipt_latencies": tally.receipt_latencies,
        "receipts_done_seconds": round(tally.last_receipt - tally.first, 3)
        if tally.receipts
        else 0,
        "missing_receipts": len(tally.submitted_at),
        "generator_cpu_percent": round(100 * cpu / (time.perf_counter() - tally.first), 1),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--system-id", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--sender", default="JUMBE")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--offset", type=int, default=0, help="first destination number")
    p.add_argument(
        "--rate", type=float, default=0.0, help="submits per second in all (0: flat out)"
    )
    p.add_argument("--receipts", action="store_true")
    p.add_argument("--receipt-wait", type=float, default=120.0)
    p.add_argument("--text", default="Jumbe benchmark message")
    p.add_argument("--out", required=True, help="file to write the JSON result to")
    return p.parse_args(argv)


if __name__ == "__main__":
    import uvloop

    arguments = parse()
    result = uvloop.run(main(arguments))
    # a file, not stdout: a pipe left non-blocking by the event loop can cut long output
    Path(arguments.out).write_text(json.dumps(result))
