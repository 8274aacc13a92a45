"""A callback receiver for the benchmarks: counts status callbacks, lean enough not to matter.

Runs as its own process (``python -m bench.callback_receiver --port P``): a raw asyncio
HTTP/1.1 server (uvloop, keep-alive, no framework) that answers every callback with an
empty 200 and keeps, per message, the states it was told in arrival order. It understands
two senders:

- Jumbe: ``POST`` with the REST v1 webhook JSON (``uuid``, ``state``, ``updated_at``);
  the lag is receipt time minus ``updated_at`` (the status change's own time).
- Kannel: ``GET /kannel?m=<message>&t=%d`` (the ``dlr-url`` the benchmark gives
  ``sendsms``), ``t`` being Kannel's DLR type: 1 delivered, 2 undelivered, 4 buffered,
  8 SMSC submit, 16 SMSC reject.

The benchmark reads ``GET /stats`` (``?lags=1`` adds the lag samples) and clears the
counters between phases with ``POST /reset``. With ``--delay`` every answer waits that
long (``--delay -1``: never answers), to play a slow or dead receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

FINAL = frozenset({"delivered", "failed", "expired", "cancelled", "rejected"})
KANNEL_TYPES = {1: "delivered", 2: "failed", 4: "buffered", 8: "sent", 16: "rejected"}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


@dataclass
class Tally:
    """What the receiver was told since the last reset."""

    requests: int = 0
    callbacks: int = 0
    bad: int = 0
    duplicates: int = 0
    out_of_order: int = 0  # a non-final state after the message's final one
    by_state: dict[str, int] = field(default_factory=dict)
    finals: int = 0  # messages with a final state (each counted once)
    first_at: float = 0.0
    last_at: float = 0.0
    last_final_at: float = 0.0
    lags: list[float] = field(default_factory=list)
    final_lags: list[float] = field(default_factory=list)
    states: dict[str, list[str]] = field(default_factory=dict)

    def record(self, message: str, state: str, changed_at: float | None) -> None:
        now = time.time()
        self.callbacks += 1
        self.by_state[state] = self.by_state.get(state, 0) + 1
        self.first_at = self.first_at or now
        self.last_at = now
        seen = self.states.setdefault(message, [])
        if state in seen:
            self.duplicates += 1
            return
        final = state in FINAL
        if not final and any(s in FINAL for s in seen):
            self.out_of_order += 1
        seen.append(state)
        if changed_at is not None:
            self.lags.append(now - changed_at)
            if final:
                self.final_lags.append(now - changed_at)
        if final and sum(s in FINAL for s in seen) == 1:
            self.finals += 1
            self.last_final_at = now

    def summary(self, lags: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "requests": self.requests,
            "callbacks": self.callbacks,
            "messages": len(self.states),
            "finals": self.finals,
            "by_state": self.by_state,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "bad": self.bad,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "last_final_at": self.last_final_at,
        }
        if lags:
            out["lags"] = self.lags
            out["final_lags"] = self.final_lags
        return out


class Receiver:
    def __init__(self, delay: float) -> None:
        self.tally = Tally()
        self.delay = delay

    def answer(self, head: bytes, body: bytes) -> tuple[bytes, bool]:
        """Handle one request; return the response and whether it is the benchmark's own
        (``/stats``, ``/reset``: answered at once even by a slow or dead receiver)."""
        method, target = head.split(b" ", 2)[:2]
        url = urlsplit(target.decode("latin-1"))
        if url.path == "/stats":
            payload = json.dumps(self.tally.summary(lags="lags=1" in url.query)).encode()
            return JSON_HEAD % len(payload) + payload, True
        if url.path == "/reset":
            self.tally = Tally()
            return OK, True
        return self.callback(method, url.query, body), False

    def callback(self, method: bytes, query: str, body: bytes) -> bytes:
        self.tally.requests += 1
        try:
            if method == b"GET":  # Kannel's dlr-url
                fields = parse_qs(query)
                kind = int(fields["t"][0])
                self.tally.record(fields["m"][0], KANNEL_TYPES.get(kind, str(kind)), None)
            else:  # Jumbe's webhook
                event = json.loads(body)
                changed = datetime.fromisoformat(event["updated_at"]).timestamp()
                self.tally.record(event["uuid"], event["state"], changed)
        except (KeyError, ValueError, TypeError):
            self.tally.bad += 1
            return BAD
        return OK


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests framed by Content-Length (no chunked bodies)."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            lines = head.split(b"\r\n")
            length, keep_alive = 0, not lines[0].endswith(b"HTTP/1.0")
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    keep_alive = value.strip().lower() == b"keep-alive"
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            response, own = self.receiver.answer(head, body)
            self.respond(response, not keep_alive, at_once=own)

    def respond(self, response: bytes, close: bool, at_once: bool) -> None:
        assert self.transport is not None
        transport = self.transport
        if at_once or self.receiver.delay == 0:
            self._send(transport, response, close)
        elif self.receiver.delay < 0:
            return  # a dead receiver: holds the connection, never answers
        else:
            loop = asyncio.get_running_loop()
            loop.call_later(self.receiver.delay, self._send, transport, response, close)

    @staticmethod
    def _send(transport: asyncio.Transport, response: bytes, close: bool) -> None:
        if transport.is_closing():
            return
        transport.write(response)
        if close:
            transport.close()


async def serve(host: str, port: int, delay: float) -> None:
    receiver = Receiver(delay)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(receiver), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before answering; -1 never")
    arguments = p.parse_args()
    uvloop.run(serve(arguments.host, arguments.port, arguments.delay))
