"""A webhook receiver on a loopback port, as a customer would run one (aiohttp's server).

It records every callback it answers, can answer slowly, refuse the first few, or
go down (port closed) and come back on the same port.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, *, fail_first: int = 0, delay: float = 0.0) -> None:
        self.port = free_port()
        self.calls: list[Call] = []
        self.fail_first = fail_first
        self.delay = delay
        self.hold: asyncio.Event | None = None  # when set: answer only once it is set
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        self._site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        if self._site is None:
            await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def down(self) -> None:
        """Stop listening (connections are refused) until ``start`` again."""
        assert self._site is not None
        await self._site.stop()

    async def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hold is not None:
            await self.hold.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        refused = sum(1 for c in self.calls if c.status >= 300) < self.fail_first
        status = 500 if refused else 204
        self.calls.append(Call(dict(request.headers), body, status))
        return web.Response(status=status)

    def accepted(self) -> list[Call]:
        return [c for c in self.calls if c.status < 300]

    def by_message(self) -> dict[str, list[int]]:
        """Sequence numbers of accepted callbacks per message uuid, in arrival order, repeats
        (at-least-once) dropped by delivery id."""
        seen: set[str] = set()
        found: dict[str, list[int]] = {}
        for call in self.accepted():
            data = call.json
            if data["delivery_id"] in seen:
                continue
            seen.add(data["delivery_id"])
            found.setdefault(data["uuid"], []).append(data["sequence"])
        return found


def verify(secret: str, call: Call) -> bool:
    signature = dict(p.split("=", 1) for p in call.headers["X-Jumbe-Signature"].split(","))
    mac = hmac.new(secret.encode(), f"{signature['t']}.".encode() + call.body, hashlib.sha256)
    return hmac.compare_digest(signature["v1"], mac.hexdigest())
