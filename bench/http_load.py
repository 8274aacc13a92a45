"""An HTTP/1.1 load generator for sending messages, lean enough not to be the bottleneck.

Keep-alive connections, requests built as bytes, responses parsed only as far as
the status line and Content-Length. Runs as its own process and writes one JSON
object with throughput, latency and its own CPU use.

``--api`` picks the request: ``rest`` (Jumbe's ``POST /api/v1/messages``, with
``--callback-url`` if given), ``kannel`` (Kannel's ``GET /cgi-bin/sendsms`` with
``dlr-mask`` and a ``dlr-url`` under ``--callback-url`` naming the message), or
``callback`` (a Jumbe status webhook, to measure a callback receiver alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

KANNEL_DLR_MASK = 1 + 2 + 8 + 16  # delivered, undelivered, SMSC submit, SMSC reject


def rest(args: argparse.Namespace, n: int) -> bytes:
    message = {"to": f"+2547{n % 100_000_000:08d}", "message": args.text}
    if args.callback_url:
        message["callback_url"] = args.callback_url
    body = json.dumps(message).encode()
    return (
        f"POST /api/v1/messages HTTP/1.1\r\nHost: {args.host}\r\n"
        f"Authorization: Bearer {args.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def kannel(args: argparse.Namespace, n: int) -> bytes:
    """Kannel's sendsms; ``%d`` in the dlr-url is Kannel's DLR type, ``m`` our message number."""
    query = {
        "username": args.username,
        "password": args.token,
        "from": "JUMBE",
        "to": f"2547{n % 100_000_000:08d}",
        "text": args.text,
        "dlr-mask": str(KANNEL_DLR_MASK),
    }
    if args.callback_url:
        query["dlr-url"] = f"{args.callback_url}?m={n}&t=%d"
    return (
        f"GET /cgi-bin/sendsms?{urlencode(query)} HTTP/1.1\r\nHost: {args.host}\r\n\r\n"
    ).encode()


def callback(args: argparse.Namespace, n: int) -> bytes:
    """A final status webhook as Jumbe sends it, stamped now."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = json.dumps(
        {
            "event": "message.status",
            "uuid": str(uuid.UUID(int=n)),
            "to": f"+2547{n % 100_000_000:08d}",
            "sender_id": "JUMBE",
            "status": "Delivered",
            "state": "delivered",
            "description": "delivered",
            "error_code": None,
            "parts": 1,
            "client_ref": None,
            "created_at": now,
            "updated_at": now,
        }
    ).encode()
    return (
        f"POST /callbacks HTTP/1.1\r\nHost: {args.host}\r\nContent-Type: application/json\r\n"
        f"X-Jumbe-Event: message.status\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


BUILDERS = {"rest": rest, "kannel": kannel, "callback": callback}


async def connection(
    args: argparse.Namespace, first: int, count: int, rate: float | None, out: dict
) -> None:
    reader, writer = await asyncio.open_connection(args.host, args.port)
    started = time.perf_counter()
    for i in range(count):
        if rate:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        request = BUILDERS[args.api](args, first + i)
        sent = time.perf_counter()
        writer.write(request)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        now = time.perf_counter()
        out["latencies"].append(now - sent)
        code = status_line.split(b" ", 2)[1].decode()
        out["codes"][code] = out["codes"].get(code, 0) + 1
        out["last"] = now
    writer.close()


async def main(args: argparse.Namespace) -> dict:
    out: dict = {"latencies": [], "codes": {}, "last": 0.0}
    per, extra = divmod(args.count, args.connections)
    shares = [per + (c < extra) for c in range(args.connections)]
    starts = [args.offset + sum(shares[:c]) for c in range(args.connections)]
    rate = args.rate / args.connections if args.rate else None
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started_at = time.time()
    first = time.perf_counter()
    clients = zip(starts, shares, strict=True)
    await asyncio.gather(*(connection(args, start, share, rate, out) for start, share in clients))
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = out["last"] - first
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "requests": len(out["latencies"]),
        "codes": out["codes"],
        "seconds": round(elapsed, 3),
        "started_at": started_at,
        "requests_per_second": round(len(out["latencies"]) / elapsed, 1) if elapsed else 0.0,
        "latencies": out["latencies"],
        "generator_cpu_percent": round(100 * cpu / elapsed, 1) if elapsed else 0.0,
    }


if __name__ == "__main__":
    import uvloop

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--api", choices=sorted(BUILDERS), default="rest")
    p.add_argument("--token", default="", help="API token (rest), password (kannel)")
    p.add_argument("--username", default="", help="sendsms user (kannel)")
    p.add_argument("--callback-url", default="", help="callback_url (rest), dlr-url base (kannel)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--count", type=int, default=30_000)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--text", default="Jumbe REST benchmark message")
    p.add_argument("--out", required=True, help="file to write the JSON result to")
    arguments = p.parse_args()
    result = uvloop.run(main(arguments))
    # a file, not stdout: a pipe left non-blocking by the event loop can cut long output
    Path(arguments.out).write_text(json.dumps(result))
