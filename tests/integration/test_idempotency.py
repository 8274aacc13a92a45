"""Idempotency-Key on POST /api/v1/messages and the Kimisms send-sms: exactly once.

Fifty identical requests at the same moment make one message and one charge, and
every one of them gets the first answer; the same key with another body is
refused with 409; keys belong to their account and last 24 hours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from jumbe.app import Jumbe
from jumbe.core.clock import utcnow
from jumbe.store.schema import idempotency_keys
from tests.conftest import wait_until

DUPLICATES = 50


@pytest.fixture
async def api(jumbe: Jumbe) -> AsyncIterator[httpx.AsyncClient]:
    assert jumbe.demo is not None
    headers = {"Authorization": f"Bearer {jumbe.demo.api_token}"}
    limits = httpx.Limits(max_connections=DUPLICATES)
    async with httpx.AsyncClient(
        base_url=jumbe.base_url, headers=headers, timeout=30, limits=limits
    ) as client:
        yield client


async def messages_total(api: httpx.AsyncClient) -> int:
    answer = await api.get("/api/v1/messages")
    return int(answer.json()["data"]["total"])


async def test_fifty_concurrent_rest_repeats_send_once_and_charge_once(
    jumbe: Jumbe, api: httpx.AsyncClient
) -> None:
    assert jumbe.demo is not None
    before = await jumbe.services.billing.balance(jumbe.demo.account_id)
    body = {"to": "+254712345678", "message": "pay 100 KES"}
    headers = {"Idempotency-Key": "order-42"}
    answers = await asyncio.gather(
        *(api.post("/api/v1/messages", json=body, headers=headers) for _ in range(DUPLICATES))
    )
    assert {a.status_code for a in answers} == {200}, {a.text for a in answers}
    uuids = {a.json()["data"]["uuid"] for a in answers}
    assert len(uuids) == 1
    assert {a.json()["data"]["status"] for a in answers} == {answers[0].json()["data"]["status"]}
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == DUPLICATES - 1
    assert await messages_total(api) == 1
    assert await jumbe.services.billing.balance(jumbe.demo.account_id) == before - 1
    assert (await jumbe.services.billing.reconcile(jumbe.demo.account_id)).ok

    later = await api.post("/api/v1/messages", json=body, headers=headers)
    assert later.status_code == 200
    assert later.json() == answers[0].json() or later.json()["data"]["uuid"] in uuids
    assert await messages_total(api) == 1


async def test_the_same_key_with_another_body_is_409(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await api.post(
        "/api/v1/messages", json={"to": "0712345678", "message": "a"}, headers=headers
    )
    assert first.status_code == 200
    other = await api.post(
        "/api/v1/messages", json={"to": "0712345678", "message": "b"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["success"] is False
    assert "Idempotency-Key" in other.json()["error"]
    assert await messages_total(api) == 1


async def test_a_refused_request_leaves_the_key_free(api: httpx.AsyncClient) -> None:
    """Nothing was sent, so nothing is remembered: the corrected request goes through."""
    headers = {"Idempotency-Key": "retry-me"}
    bad = await api.post("/api/v1/messages", json={"to": "12", "message": "a"}, headers=headers)
    assert bad.status_code == 400
    good = await api.post(
        "/api/v1/messages", json={"to": "0712345678", "message": "a"}, headers=headers
    )
    assert good.status_code == 200
    assert "Idempotent-Replayed" not in good.headers


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_unusable_keys_are_400(api: httpx.AsyncClient, key: str) -> None:
    answer = await api.post(
        "/api/v1/messages",
        json={"to": "0712345678", "message": "a"},
        headers={"Idempotency-Key": key},
    )
    assert answer.status_code == 400
    assert await messages_total(api) == 0


async def test_keys_belong_to_their_account_and_last_a_day(
    jumbe: Jumbe, api: httpx.AsyncClient
) -> None:
    other = await jumbe.services.accounts.create_account("other")
    await jumbe.services.billing.credit(other.account_id, 10, "test")
    body = {"to": "0712345678", "message": "same"}
    headers = {"Idempotency-Key": "shared-key"}
    mine = await api.post("/api/v1/messages", json=body, headers=headers)
    theirs = await api.post(
        "/api/v1/messages",
        json=body,
        headers={**headers, "Authorization": f"Bearer {other.api_token}"},
    )
    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["data"]["uuid"] != theirs.json()["data"]["uuid"]

    yesterday = utcnow() - timedelta(hours=24, seconds=1)
    await jumbe.db.write(
        lambda conn: conn.execute(update(idempotency_keys).values(created_at=yesterday))
    )
    again = await api.post("/api/v1/messages", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["data"]["uuid"] != mine.json()["data"]["uuid"]

    async def other_key_pruned() -> bool:  # by the sweeper, within its interval
        rows = await jumbe.db.read(
            lambda conn: conn.execute(
                select(idempotency_keys.c.key).where(
                    idempotency_keys.c.account_id == other.account_id
                )
            ).all()
        )
        return not rows

    await wait_until(other_key_pruned, what="the other account's day-old key pruned")


async def test_fifty_concurrent_kimisms_repeats_send_once(
    jumbe: Jumbe, api: httpx.AsyncClient
) -> None:
    assert jumbe.demo is not None
    token = await api.post(
        "/api/generate-token",
        json={
            "grant_type": "client_credentials",
            "client_id": jumbe.demo.oauth_client_id,
            "client_secret": jumbe.demo.oauth_client_secret,
        },
    )
    headers = {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "Idempotency-Key": "unique-request-id-12345",  # the document's example
    }
    body = {"sender_name": "JUMBE", "contact": "254712345678", "message": "Your OTP is 482910"}
    before = await jumbe.services.billing.balance(jumbe.demo.account_id)
    answers = await asyncio.gather(
        *(api.post("/api/send-sms", json=body, headers=headers) for _ in range(DUPLICATES))
    )
    assert {a.status_code for a in answers} == {200}, {a.text for a in answers}
    assert len({a.json()["message_id"] for a in answers}) == 1
    assert {a.json()["status"] for a in answers} == {"INITIATED"}
    assert await messages_total(api) == 1
    assert await jumbe.services.billing.balance(jumbe.demo.account_id) == before - 1
    changed = await api.post("/api/send-sms", json={**body, "message": "another"}, headers=headers)
    assert changed.status_code == 409
    assert set(changed.json()) == {"error", "description"}


async def test_without_a_key_each_request_sends(jumbe: Jumbe, api: httpx.AsyncClient) -> None:
    body = {"to": "0712345678", "message": "twice"}
    for _ in range(2):
        assert (await api.post("/api/v1/messages", json=body)).status_code == 200
    assert await messages_total(api) == 2
