"""A webhook receiver for benchmarks: counts callbacks and their lag, lean enough not to be
the bottleneck (HTTP/1.1 keep-alive parsed by hand, as bench/http_load.py sends).

    python -m bench.callback_sink --port P --out FILE [--delay S | --hang]

Lag is the time from the status change (the body's ``updated_at``) to the callback's
arrival. Keeps ``<out>.progress`` (callbacks, finals) current; writes its JSON result on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from datetime import datetime
from pathlib import Path

FINAL = {"delivered", "failed", "expired", "cancelled"}


class Counts:
    def __init__(self) -> None:
        self.callbacks = 0
        self.finals = 0
        self.first = 0.0
        self.last = 0.0
        self.lags: list[float] = []
        self.final_times: list[float] = []


def handler(counts: Counts, args: argparse.Namespace) -> type[asyncio.Protocol]:
    answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    class Sink(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in self.buffer[:end].split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(self.buffer) < end + 4 + length:
                    return
                body = self.buffer[end + 4 : end + 4 + length]
                self.buffer = self.buffer[end + 4 + length :]
                self.received(body)

        def answer_late(self) -> None:
            if not self.transport.is_closing():  # the sender may have given up meanwhile
                self.transport.write(answer)

        def received(self, body: bytes) -> None:
            now = time.time()
            data = json.loads(body)
            at = datetime.fromisoformat(data["updated_at"].replace("Z", "+00:00")).timestamp()
            counts.callbacks += 1
            counts.first = counts.first or now
            counts.last = now
            counts.lags.append(now - at)
            if data["state"] in FINAL:
                counts.finals += 1
                counts.final_times.append(now)
            if args.hang:
                return
            if args.delay:
                asyncio.get_running_loop().call_later(args.delay, self.answer_late)
            else:
                self.transport.write(answer)

    return Sink


async def main(args: argparse.Namespace) -> None:
    counts = Counts()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(handler(counts, args), "127.0.0.1", args.port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    progress = Path(args.out + ".progress")
    # tiny files on a benchmark's own disk: blocking for microseconds is fine here
    progress.write_text("0 0")  # noqa: ASYNC240
    while not stop.is_set():
        progress.write_text(f"{counts.callbacks} {counts.finals}")  # noqa: ASYNC240
        try:
            async with asyncio.timeout(0.1):
                await stop.wait()
        except TimeoutError:
            pass
    server.close()
    Path(args.out).write_text(  # noqa: ASYNC240
        json.dumps(
            {
                "callbacks": counts.callbacks,
                "finals": counts.finals,
                "first": counts.first,
                "last": counts.last,
                "lags": counts.lags,
                "final_times": counts.final_times,
            }
        )
    )


if __name__ == "__main__":
    import uvloop

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--delay", type=float, default=0.0, help="answer after this many seconds")
    p.add_argument("--hang", action="store_true", help="never answer")
    uvloop.run(main(p.parse_args()))
