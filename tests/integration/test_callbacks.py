"""Status callbacks over real HTTP: signed, ordered per message, retried, isolated per receiver.

Receivers run on loopback, so these servers allow private callback targets
explicitly (JUMBE_CALLBACKS_ALLOW_PRIVATE), as an on-premise install would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.settings import Settings
from tests.callback_receiver import Receiver, verify
from tests.conftest import final_status, running, wait_until

# How long the receiver stays down; JUMBE_TEST_RECEIVER_DOWN=60 runs the full minute.
RECEIVER_DOWN = float(os.environ.get("JUMBE_TEST_RECEIVER_DOWN", "3"))


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Jumbe]:
    async with running(
        settings,
        callbacks_allow_private=True,
        webhook_retry_base=0.2,
        webhook_timeout=2.0,
        webhook_concurrency=2,
    ) as app:
        yield app


@pytest.fixture
async def api(server: Jumbe) -> AsyncIterator[httpx.AsyncClient]:
    assert server.demo is not None
    headers = {"Authorization": f"Bearer {server.demo.api_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=10) as c:
        yield c


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.close()


async def send(api: httpx.AsyncClient, url: str, n: int = 1, first: int = 0) -> list[str]:
    uuids = []
    for i in range(first, first + n):
        answer = await api.post(
            "/api/v1/messages",
            json={"to": f"+2547120{i:05d}", "message": f"hi {i}", "callback_url": url},
        )
        assert answer.status_code == 200, answer.text
        uuids.append(answer.json()["data"]["uuid"])
    return uuids


async def test_callbacks_are_signed_retried_and_carry_order_and_identity(
    server: Jumbe, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    assert server.demo is not None
    receiver.fail_first = 1
    (uuid,) = await send(api, receiver.url)
    assert (await final_status(api, uuid))["status"] == "delivered"
    await wait_until(lambda: receiver.by_message().get(uuid) == [1, 2], what="both callbacks")
    refused = [c for c in receiver.calls if c.status == 500]
    assert len(refused) == 1  # and it was tried again until it got through
    for call in receiver.calls:
        assert verify(server.demo.webhook_secret, call)
        body = call.json
        assert (
            call.headers["X-Jumbe-Delivery"] == body["delivery_id"] == f"{uuid}.{body['sequence']}"
        )
        assert call.headers["X-Jumbe-Sequence"] == str(body["sequence"])
        assert call.headers["X-Jumbe-Event"] == body["event"] == "message.status"
    sent, delivered = (c.json for c in receiver.accepted())
    assert (sent["state"], delivered["state"]) == ("sent", "delivered")
    # the body is the message as the REST API shows it at that change
    shown = (await api.get(f"/api/v1/messages/{uuid}")).json()["data"]
    assert {k: delivered[k] for k in shown if k != "history"} == {
        k: v for k, v in shown.items() if k != "history"
    }


async def test_a_receiver_down_then_back_gets_every_callback_in_order(
    server: Jumbe, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    await receiver.down()
    uuids = await send(api, receiver.url, 20)
    for uuid in uuids:
        assert (await final_status(api, uuid))["status"] == "delivered"
    await asyncio.sleep(RECEIVER_DOWN)
    assert receiver.calls == []
    await receiver.start()
    await wait_until(
        lambda: all(receiver.by_message().get(u) == [1, 2] for u in uuids),
        within=60 + RECEIVER_DOWN * 2,
        what="every callback after the receiver came back",
    )
    # in order as they arrived, not only once sorted: no `delivered` ever before `sent`
    for uuid in uuids:
        states = [c.json["state"] for c in receiver.accepted() if c.json["uuid"] == uuid]
        assert states[0] == "sent" and "delivered" in states


async def test_a_hanging_receiver_does_not_hold_back_another(
    server: Jumbe, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    stuck = Receiver()
    stuck.hold = asyncio.Event()  # answers nothing until released
    await stuck.start()
    try:
        slow_uuids = await send(api, stuck.url, 10)
        fast_uuids = await send(api, receiver.url, 10, first=100)
        await wait_until(
            lambda: all(receiver.by_message().get(u) == [1, 2] for u in fast_uuids),
            what="the healthy receiver's callbacks",
        )
        assert stuck.calls == []  # it has answered nothing meanwhile
        stuck.hold.set()
        await wait_until(
            lambda: all(stuck.by_message().get(u) == [1, 2] for u in slow_uuids),
            within=60,
            what="the stuck receiver's callbacks once it answers",
        )
    finally:
        await stuck.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://[zz]/", "not a valid URL"),
        ("http://]/", "not a valid URL"),
        ("http://example.com:abc/", "not a valid URL"),
        ("http://example.com:99999/", "not a valid URL"),
        ("ftp://example.com/", "http:// or https://"),
        ("http:///hook", "must name a host"),
        ("http://2130706433/", "not a valid name"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.5/hook", "private"),
        ("http://[fd00::1]/hook", "private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "no callback can go to"),
        ("http://localhost/hook", "loopback"),
        ("http://no-such-host.invalid/hook", "could not be resolved"),
    ],
)
async def test_callback_urls_are_checked_at_acceptance(
    demo: httpx.AsyncClient, url: str, words: str
) -> None:
    """The default server: private targets are not allowed; nothing is stored or charged."""
    before = (await demo.get("/api/v1/messages")).json()["data"]["total"]
    answer = await demo.post(
        "/api/v1/messages", json={"to": "+254712345678", "message": "hi", "callback_url": url}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["success"] is False and words in answer.json()["error"]
    assert (await demo.get("/api/v1/messages")).json()["data"]["total"] == before
