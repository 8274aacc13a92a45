"""The Kimisms API over real HTTP, with the document's own examples sent verbatim.

A Kimisms integration exchanges client credentials for a 900-second token, sends
one SMS at a time, and receives callbacks in Kimisms' shape up to DELIVERED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.settings import Settings
from tests.callback_receiver import Receiver
from tests.conftest import running, wait_until

# The document's examples, as printed (credentials and sender filled in per test).
TOKEN_REQUEST = {
    "grant_type": "client_credentials",
    "client_id": "your_client_id",
    "client_secret": "your_client_secret",
}
SEND_REQUEST = {
    "sender_name": "KIMISMS",
    "contact": "254712345678",
    "message": "Your OTP is 482910",
    "callback_url": "https://your-app.com/callback",
}


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Jumbe]:
    async with running(settings, callbacks_allow_private=True, webhook_retry_base=0.2) as app:
        yield app


@pytest.fixture
async def http(server: Jumbe) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


async def generate_token(server: Jumbe, http: httpx.AsyncClient) -> httpx.Response:
    """The document's token request with the demo account's client credentials."""
    assert server.demo is not None
    return await http.post(
        "/api/generate-token",
        json={
            **TOKEN_REQUEST,
            "client_id": server.demo.oauth_client_id,
            "client_secret": server.demo.oauth_client_secret,
        },
    )


async def bearer(server: Jumbe, http: httpx.AsyncClient) -> dict[str, str]:
    answer = await generate_token(server, http)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_token_for_client_credentials(server: Jumbe, http: httpx.AsyncClient) -> None:
    answer = await generate_token(server, http)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert len(body["access_token"]) >= 20


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (TOKEN_REQUEST, 403, "Invalid credentials"),  # the document's placeholders
        ({**TOKEN_REQUEST, "grant_type": "password"}, 400, "Invalid grant_type"),
        ({"grant_type": "client_credentials"}, 400, "Missing client_id"),
        ("not json", 400, "Invalid request"),
        ([1, 2], 400, "Invalid request"),
    ],
)
async def test_token_refusals_in_the_documented_shape(
    http: httpx.AsyncClient, body: object, status: int, error: str
) -> None:
    if isinstance(body, str):
        answer = await http.post("/api/generate-token", content=body)
    else:
        answer = await http.post("/api/generate-token", json=body)
    assert answer.status_code == status
    assert set(answer.json()) == {"error", "description"}
    assert answer.json()["error"] == error


async def test_a_face_credential_opens_only_its_face(
    server: Jumbe, http: httpx.AsyncClient
) -> None:
    """Daraja consumer keys buy no Kimisms token, and a Kimisms token opens no SIM portal."""
    assert server.demo is not None
    daraja_creds = {
        **TOKEN_REQUEST,
        "client_id": server.demo.daraja_consumer_key,
        "client_secret": server.demo.daraja_consumer_secret,
    }
    assert (await http.post("/api/generate-token", json=daraja_creds)).status_code == 403
    kimisms = await bearer(server, http)
    portal = await http.post(
        "/simportal/v1/querycustomerinfo", json={"msisdn": "254700000001"}, headers=kimisms
    )
    assert portal.status_code == 401
    daraja = await http.get(
        "/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        auth=(server.demo.oauth_client_id, server.demo.oauth_client_secret),
    )
    assert daraja.status_code == 400  # Daraja's answer to credentials it does not know


async def test_send_and_kimisms_callbacks_to_delivered(
    server: Jumbe, http: httpx.AsyncClient
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        headers = await bearer(server, http)
        answer = await http.post(
            "/api/send-sms",
            json={**SEND_REQUEST, "sender_name": "JUMBE", "callback_url": receiver.url},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        sent = answer.json()
        assert set(sent) == {"message_id", "contact", "status", "description", "provider"}
        assert sent["contact"] == "254712345678"
        assert sent["status"] == "INITIATED"
        assert sent["description"] == "Message queued for delivery"
        assert sent["provider"] == "Safaricom"

        def statuses() -> list[str]:
            return [c.json["status"] for c in receiver.accepted()]

        await wait_until(lambda: "DELIVERED" in statuses(), what="a DELIVERED callback")
        assert statuses() == ["SENT", "DELIVERED"]
        last = receiver.accepted()[-1].json
        assert last["message_id"] == sent["message_id"]
        assert last["contact"] == "254712345678"
        assert last["provider"] == "Safaricom"
        assert last["description"] == "Message delivered to handset"
    finally:
        await receiver.close()


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        (
            {"sender_name": "MYSENDER"},
            "Invalid sender_name",
            "No approved Sender ID found matching 'MYSENDER'",
        ),
        ({"contact": "2547123"}, "Invalid contact", "contact must be 9 to 13 digits"),
        ({"contact": "+254712345678"}, "Invalid contact", "contact must be 9 to 13 digits"),
        ({"message": "   "}, "Invalid message", "message must not be empty"),
        ({"message": "x" * 10_001}, "Invalid message", None),
        ({"callback_url": "ftp://example.com/hook"}, "Invalid callback_url", None),
        ({"contact": None}, "Invalid request", None),
    ],
)
async def test_send_refusals_in_the_documented_shape(
    server: Jumbe,
    http: httpx.AsyncClient,
    change: dict[str, object],
    error: str,
    description: str | None,
) -> None:
    headers = await bearer(server, http)
    body = {**SEND_REQUEST, "sender_name": "JUMBE", "callback_url": None, **change}
    answer = await http.post("/api/send-sms", json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    if description is not None:
        assert answer.json()["description"] == description


async def test_a_sender_on_one_network_only_is_refused_for_another(
    server: Jumbe, http: httpx.AsyncClient
) -> None:
    """The document's rule: a Safaricom Sender ID sends only to Safaricom numbers."""
    assert server.demo is not None
    await server.services.senders.create(server.demo.account_id, "SAFONLY", "safaricom")
    headers = await bearer(server, http)
    body = {**SEND_REQUEST, "sender_name": "SAFONLY", "callback_url": None}
    airtel = await http.post(
        "/api/send-sms", json={**body, "contact": "254733123456"}, headers=headers
    )
    assert airtel.status_code == 400
    assert airtel.json() == {
        "error": "Invalid contact",
        "description": "The recipient's network must match the Sender ID's provider",
    }
    safaricom = await http.post("/api/send-sms", json=body, headers=headers)
    assert safaricom.status_code == 200, safaricom.text
    assert safaricom.json()["provider"] == "Safaricom"


async def test_send_without_a_valid_token_is_401(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer eyJhbGciOiJIUzI1NiIs..."}):
        answer = await http.post("/api/send-sms", json=SEND_REQUEST, headers=headers)
        assert answer.status_code == 401
        assert set(answer.json()) == {"error", "description"}


async def test_regenerated_credentials_retire_the_old_ones(
    server: Jumbe, http: httpx.AsyncClient
) -> None:
    assert server.demo is not None
    old = await bearer(server, http)
    fresh = await server.services.kimisms_oauth.regenerate(server.demo.account_id)
    refused = await http.post(
        "/api/send-sms", json={**SEND_REQUEST, "sender_name": "JUMBE"}, headers=old
    )
    assert refused.status_code == 401
    answer = await http.post(
        "/api/generate-token",
        json={**TOKEN_REQUEST, "client_id": fresh.key, "client_secret": fresh.secret},
    )
    assert answer.status_code == 200


async def test_a_flood_of_bad_tokens_is_429_in_the_documented_shape(settings: Settings) -> None:
    async with (
        running(settings, auth_failures_per_minute=3) as app,
        httpx.AsyncClient(base_url=app.base_url, timeout=10) as http,
    ):
        answers = [
            await http.post(
                "/api/send-sms", json=SEND_REQUEST, headers={"Authorization": f"Bearer bad{i}"}
            )
            for i in range(6)
        ]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert set(limited[0].json()) == {"error", "description"}
    assert int(limited[0].headers["Retry-After"]) > 0
