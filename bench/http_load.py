"""An HTTP/1.1 load generator for POST /api/v1/messages, lean enough not to be the bottleneck.

Keep-alive connections, requests prebuilt as bytes, responses parsed only as far as
the status line and Content-Length. Runs as its own process and prints one JSON
object with throughput, latency and its own CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path


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
        fields = {"to": f"+2547{(first + i) % 100_000_000:08d}", "message": args.text}
        if args.callback_url:
            fields["callback_url"] = args.callback_url
        body = json.dumps(fields).encode()
        request = (
            f"POST /api/v1/messages HTTP/1.1\r\nHost: {args.host}\r\n"
            f"Authorization: Bearer {args.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
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
    per = args.count // args.connections
    rate = args.rate / args.connections if args.rate else None
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    first = time.perf_counter()
    await asyncio.gather(
        *(connection(args, args.offset + c * per, per, rate, out) for c in range(args.connections))
    )
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = out["last"] - first
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "requests": len(out["latencies"]),
        "codes": out["codes"],
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(out["latencies"]) / elapsed, 1) if elapsed else 0.0,
        "latencies": out["latencies"],
        "generator_cpu_percent": round(100 * cpu / elapsed, 1) if elapsed else 0.0,
    }


if __name__ == "__main__":
    import uvloop

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--count", type=int, default=30_000)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--text", default="Jumbe REST benchmark message")
    p.add_argument("--callback-url", default="", help="ask for status callbacks there")
    p.add_argument("--out", required=True, help="file to write the JSON result to")
    arguments = p.parse_args()
    result = uvloop.run(main(arguments))
    # a file, not stdout: a pipe left non-blocking by the event loop can cut long output
    Path(arguments.out).write_text(json.dumps(result))
