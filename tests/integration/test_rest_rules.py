"""Authentication, scopes, scoping, payment and bad input over real HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jumbe.app import Jumbe
from tests.conftest import demo_token

SEND = {"to": "+254712345678", "message": "hi"}


def client(jumbe: Jumbe, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=jumbe.base_url, headers=headers, timeout=10)


async def test_unauthenticated_variants(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    raw, token = await demo_token(jumbe, "soon gone", ["messages"])
    await jumbe.services.tokens.revoke_token(jumbe.demo.account_id, token.uuid)
    cases = {
        "missing": {},
        "wrong": {"Authorization": "Bearer jmb_not_a_real_token"},
        "revoked": {"X-API-Key": raw},
        "basic scheme": {"Authorization": "Basic Zm9vOmJhcg=="},
    }
    for name, headers in cases.items():
        async with client(jumbe, **headers) as c:
            answer = await c.post("/api/v1/messages", json=SEND)
        assert answer.status_code == 401, name
        assert answer.json()["success"] is False, name
    async with client(jumbe, **{"X-API-Key": raw}) as c:
        assert "revoked" in (await c.get("/api/v1/messages")).json()["error"]


async def test_expired_token(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    raw, _token = await demo_token(
        jumbe,
        "short",
        ["messages"],
        expires_at=datetime.now(UTC) + timedelta(seconds=1),
    )
    async with client(jumbe, Authorization=f"Bearer {raw}") as c:
        assert (await c.get("/api/v1/messages")).status_code == 200
        await asyncio.sleep(1.1)
        expired = await c.get("/api/v1/messages")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]


async def test_scope_is_enforced(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    raw, _ = await demo_token(jumbe, "ro", ["contacts"])
    async with client(jumbe, **{"X-API-Key": raw}) as c:
        answer = await c.post("/api/v1/messages", json=SEND)
        tokens = await c.get("/api/v1/tokens")
    assert answer.status_code == 403 and "messages" in answer.json()["error"]
    assert tokens.status_code == 403


async def test_a_token_grants_only_scopes_it_holds(jumbe: Jumbe) -> None:
    """Issue 10, item 1: a token holding only api_tokens cannot mint one that reads messages."""
    manager, _ = await demo_token(jumbe, "token manager", ["api_tokens"])
    async with client(jumbe, Authorization=f"Bearer {manager}") as c:
        escalated = await c.post(
            "/api/v1/tokens", json={"name": "x", "scopes": ["messages", "sims", "api_tokens"]}
        )
        assert escalated.status_code == 403
        assert escalated.json() == {
            "success": False,
            "error": "Forbidden: a token can only grant scopes it holds itself;"
            " this one lacks messages, sims",
        }
        same = await c.post("/api/v1/tokens", json={"name": "y", "scopes": ["api_tokens"]})
        assert same.status_code == 200, same.text
        names = [t["name"] for t in (await c.get("/api/v1/tokens")).json()["data"]]
    assert "x" not in names and "y" in names
    async with client(jumbe, Authorization=f"Bearer {same.json()['data']['raw_token']}") as c:
        assert (await c.get("/api/v1/messages")).status_code == 403
    two, _ = await demo_token(jumbe, "two scopes", ["messages", "api_tokens"])
    async with client(jumbe, Authorization=f"Bearer {two}") as c:
        narrower = await c.post("/api/v1/tokens", json={"name": "z", "scopes": ["messages"]})
        wider = await c.post("/api/v1/tokens", json={"name": "w", "scopes": ["messages", "sims"]})
    assert narrower.status_code == 200 and wider.status_code == 403


async def test_other_accounts_messages_are_404(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    mine = (await demo.post("/api/v1/messages", json=SEND)).json()["data"]["uuid"]
    other = await jumbe.services.accounts.create_account("Other")
    await jumbe.services.billing.credit(other.account_id, 10)
    async with client(jumbe, Authorization=f"Bearer {other.api_token}") as c:
        assert (await c.get(f"/api/v1/messages/{mine}")).status_code == 404
        assert (await c.post(f"/api/v1/messages/{mine}/resend")).status_code == 404
        listing = (await c.get("/api/v1/messages")).json()["data"]
    assert listing["total"] == 0


async def test_insufficient_balance_is_402(jumbe: Jumbe) -> None:
    poor = await jumbe.services.accounts.create_account("Poor")
    async with client(jumbe, Authorization=f"Bearer {poor.api_token}") as c:
        answer = await c.post("/api/v1/messages", json=SEND)
        listing = (await c.get("/api/v1/messages")).json()["data"]
    assert answer.status_code == 402
    assert answer.json() == {"success": False, "error": "Insufficient SMS unit balance"}
    assert listing["total"] == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "valid dictionary"),
        (json.dumps({"message": "hi"}).encode(), "to is required"),
        (json.dumps({"to": "+254712345678"}).encode(), "message is required"),
        (json.dumps({"to": 254712345678, "message": "hi"}).encode(), "to"),
        (json.dumps({"to": "+2547", "message": "hi"}).encode(), "invalid phone number"),
        (json.dumps({"to": "+254712345678", "message": ""}).encode(), "empty"),
        (json.dumps({"to": "+254712345678", "message": "x", "sender_id": "NOPE"}).encode(), "NOPE"),
        (json.dumps({"to": "+254712345678", "message": "\ud800"}).encode(), "message"),
    ],
)
async def test_malformed_input_is_a_clear_400(
    demo: httpx.AsyncClient, body: bytes, words: str
) -> None:
    answer = await demo.post(
        "/api/v1/messages", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["success"] is False
    assert words in answer.json()["error"]


async def test_unknown_route_and_method(demo: httpx.AsyncClient) -> None:
    missing = await demo.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["success"] is False
    wrong = await demo.delete("/api/v1/messages")
    assert wrong.status_code == 405 and wrong.json()["success"] is False


async def test_token_lifecycle_over_http(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    created = await demo.post(
        "/api/v1/tokens",
        json={"name": "Zapier", "scopes": ["messages"], "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert created.status_code == 200
    data = created.json()["data"]
    raw, uuid = data["raw_token"], data["token"]["uuid"]
    assert data["token"]["scopes"] == ["messages"]
    listed = (await demo.get("/api/v1/tokens")).json()["data"]
    assert uuid in [t["uuid"] for t in listed]
    assert all("raw_token" not in t and raw not in json.dumps(t) for t in listed)
    async with client(jumbe, Authorization=f"Bearer {raw}") as c:
        assert (await c.get("/api/v1/messages")).status_code == 200
        assert (await demo.delete(f"/api/v1/tokens/{uuid}")).status_code == 200
        assert (await c.get("/api/v1/messages")).status_code == 401
    bad = await demo.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
    assert bad.status_code == 400 and "root" in bad.json()["error"]
    assert (await demo.delete("/api/v1/tokens/no-such-token")).status_code == 404
