"""A whole Jumbe (HTTP, dispatcher, connector, embedded carrier) on free loopback ports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.settings import Settings


@pytest.fixture
async def jumbe(settings: Settings) -> AsyncIterator[Jumbe]:
    fast = settings.model_copy(
        update={
            "sweep_interval": 0.2,
            "dispatch_poll_interval": 0.2,
            "simulator": settings.simulator.model_copy(update={"receipt_delay": 0.1}),
        }
    )
    app = Jumbe(fast)
    await app.start()
    await wait_until(lambda: any(c.ready for c in app.connectors.values()), what="connector bound")
    yield app
    await app.stop()


@pytest.fixture
async def demo(jumbe: Jumbe) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as the demo account created at first start."""
    assert jumbe.demo is not None
    headers = {"Authorization": f"Bearer {jumbe.demo.api_token}"}
    async with httpx.AsyncClient(base_url=jumbe.base_url, headers=headers, timeout=10) as client:
        yield client


async def wait_until(
    check: Callable[[], Any], *, within: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def final_status(
    client: httpx.AsyncClient, uuid: str, within: float = 10.0
) -> dict[str, Any]:
    """Follow a message through the REST API until it reaches a final state."""

    async def done() -> dict[str, Any] | None:
        data = (await client.get(f"/api/v1/messages/{uuid}")).json()["data"]
        return data if data["state"] not in ("accepted", "sent") else None

    return await wait_until(done, within=within, what=f"message {uuid} to finish")
