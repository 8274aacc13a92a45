"""What Jumbe logs: an access line per HTTP request without secrets, and readable warnings."""

from __future__ import annotations

import base64
import logging
import re

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.core.client_address import parse_networks
from jumbe.faces.access_log import target
from jumbe.settings import Settings

ACCESS_LINE = re.compile(r'^127\.0\.0\.1 "(GET|POST) (\S+)" (\d{3}) \d+\.\d ms$')


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "jumbe.access"]


async def test_every_request_is_logged_without_its_credentials(
    jumbe: Jumbe, demo: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    account = jumbe.demo
    assert account is not None
    caplog.set_level(logging.INFO, logger="jumbe.access")
    token = account.api_token
    await demo.get(
        "/api/v1/messages", params={"page": "1", "api_key": token, "phone": "0712345678"}
    )
    await demo.post("/api/v1/messages", json={"to": "0712345678", "message": "siri"})
    await demo.get("/nowhere", headers={"X-API-Key": token})
    basic = base64.b64encode(
        f"{account.daraja_consumer_key}:{account.daraja_consumer_secret}".encode()
    ).decode()
    oauth = await demo.get(
        "/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    access_token = oauth.json()["access_token"]
    m2m = (
        f"<send_sms><authentication><username>{account.m2m_username}</username>"
        f"<password>{account.m2m_password}</password></authentication></send_sms>"
    )
    await demo.post("/m2m/api", content=m2m)
    await demo.post("/api/v1/messages", content=b"x" * 100_000)  # refused by the body cap

    lines = access_lines(caplog)
    assert [ACCESS_LINE.match(line).groups() for line in lines] == [  # type: ignore[union-attr]
        ("GET", "/api/v1/messages?page=1&api_key=***&phone=0712345678", "200"),
        ("POST", "/api/v1/messages", "200"),
        ("GET", "/nowhere", "404"),
        ("GET", "/oauth/v1/generate?grant_type=client_credentials", "200"),
        ("POST", "/m2m/api", "200"),
        ("POST", "/api/v1/messages", "413"),
    ]
    # (uvicorn's own access log is off in a server; pytest attaches to it regardless)
    everything = "\n".join(r.getMessage() for r in caplog.records if r.name != "uvicorn.access")
    for secret in (
        token,
        basic,
        account.daraja_consumer_secret,
        access_token,
        account.m2m_password,
    ):
        assert secret not in everything


def test_credential_like_query_values_are_masked() -> None:
    assert target("/x", b"") == "/x"
    assert (
        target("/x", b"access_token=abc&Password=p&consumer_secret=s&page=2&sig=1")
        == "/x?access_token=***&Password=***&consumer_secret=***&page=2&sig=1"
    )
    assert target("/x", b"signature=a%20b&q=a%20b") == "/x?signature=***&q=a%20b"


async def test_behind_a_trusted_proxy_the_access_log_names_the_client(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    proxied = settings.model_copy(update={"trusted_proxies": parse_networks(["127.0.0.1"])})
    app = Jumbe(proxied)
    await app.start()
    try:
        caplog.set_level(logging.INFO, logger="jumbe.access")
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            await client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.4, 203.0.113.9"})
    finally:
        await app.stop()
    # the right-most address that is not a trusted proxy, never the proxy itself
    assert [line.split(" ")[0] for line in access_lines(caplog)] == ["203.0.113.9"]
