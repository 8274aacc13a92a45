"""Failed authentications and 429 (issue 10, item 2), over real HTTP and SMPP.

The default limit (30 failures a minute) is used throughout. What must hold:
a forwarded header from an untrusted peer changes nothing; a credential that
verifies always gets in, however often its neighbours failed; each face says
429 in its own format with Retry-After.
"""

from __future__ import annotations

import logging
import secrets
from xml.etree.ElementTree import fromstring

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.core.client_address import parse_networks
from jumbe.services.accounts import NewAccount
from jumbe.settings import Settings
from jumbe.smpp.constants import CommandStatus
from tests.integration.test_smpp_passwords import bind

LIMIT = 30
GENERATE = "/oauth/v1/generate?grant_type=client_credentials"


def wrong_token() -> str:
    return "jmb_" + secrets.token_urlsafe(30)  # a new credential every time


def demo_of(jumbe: Jumbe) -> NewAccount:
    assert jumbe.demo is not None
    return jumbe.demo


def http(jumbe: Jumbe) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=jumbe.base_url, timeout=10)


async def messages(
    c: httpx.AsyncClient, token: str, forwarded: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return await c.get("/api/v1/messages", headers=headers)


def assert_retry_after(answer: httpx.Response) -> None:
    assert 1 <= int(answer.headers["retry-after"]) <= 60, answer.headers


async def test_forwarded_headers_from_an_untrusted_peer_change_nothing(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        codes = [
            (await messages(c, wrong_token(), f"198.51.100.{n}")).status_code for n in range(100)
        ]
        assert codes == [401] * LIMIT + [429] * (100 - LIMIT)
        locked = await messages(c, wrong_token(), "203.0.113.99")
        for header in ("Forwarded", "X-Real-IP"):
            other = await c.get(
                "/api/v1/messages",
                headers={"Authorization": f"Bearer {wrong_token()}", header: "203.0.113.98"},
            )
            assert other.status_code == 429
    assert locked.status_code == 429
    assert_retry_after(locked)
    assert locked.json()["success"] is False
    assert locked.json()["error"].startswith("Too many attempts")


async def test_a_valid_token_gets_in_after_its_neighbours_failed(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        for _ in range(LIMIT + 5):
            await messages(c, wrong_token())
        assert (await messages(c, wrong_token())).status_code == 429
        assert (await messages(c, demo_of(jumbe).api_token)).status_code == 200
        assert (await messages(c, wrong_token())).status_code == 429  # and the guesses still wait


async def test_one_credential_guessed_from_many_addresses_is_throttled(settings: Settings) -> None:
    """Behind a trusted proxy every guess comes "from" another address: the prefix counts."""
    async with running(settings, trusted_proxies=parse_networks(["127.0.0.1"])) as jumbe:
        prefix = "jmb_AAAAAA"  # ten characters: what a token's failures are counted by
        async with http(jumbe) as c:
            codes = [
                (
                    await messages(c, prefix + secrets.token_urlsafe(8), f"198.51.100.{n}")
                ).status_code
                for n in range(LIMIT + 1)
            ]
            assert codes == [401] * LIMIT + [429]
            other_prefix = await messages(c, wrong_token(), "198.51.100.200")
            assert other_prefix.status_code == 401
            valid = await messages(c, demo_of(jumbe).api_token, "198.51.100.1")
            assert valid.status_code == 200


async def test_a_trusted_proxy_is_believed_about_the_hop_before_it(settings: Settings) -> None:
    trusted = parse_networks(["127.0.0.0/8"])
    async with running(settings, trusted_proxies=trusted) as jumbe, http(jumbe) as c:
        for _ in range(LIMIT):
            assert (await messages(c, wrong_token(), "203.0.113.5")).status_code == 401
        assert (await messages(c, wrong_token(), "203.0.113.5")).status_code == 429
        # the client may prepend anything: the right-most untrusted hop is what counts
        spoofed = await messages(c, wrong_token(), "192.0.2.1, 203.0.113.5")
        assert spoofed.status_code == 429
        through_two = await messages(c, wrong_token(), "203.0.113.5, 127.0.0.9")
        assert through_two.status_code == 429
        neighbour = await messages(c, wrong_token(), "203.0.113.6")
        assert neighbour.status_code == 401  # another client behind the same proxy
        assert (await messages(c, demo_of(jumbe).api_token, "203.0.113.5")).status_code == 200


async def test_daraja_oauth_429_and_a_valid_secret_still_gets_in(jumbe: Jumbe) -> None:
    demo = demo_of(jumbe)
    async with http(jumbe) as c:
        for _ in range(LIMIT):
            wrong = await c.get(GENERATE, auth=(demo.daraja_consumer_key, secrets.token_hex(8)))
            assert wrong.status_code == 400
        throttled = await c.get(GENERATE, auth=(demo.daraja_consumer_key, "nope"))
        assert throttled.status_code == 429
        assert_retry_after(throttled)
        assert throttled.json()["errorCode"] == "429.001.01"
        assert set(throttled.json()) == {"requestId", "errorCode", "errorMessage"}
        issued = await c.get(GENERATE, auth=(demo.daraja_consumer_key, demo.daraja_consumer_secret))
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        bad_bearer = await c.post(
            "/simportal/v1/allsims", headers={"Authorization": "Bearer nope"}, json={}
        )
        assert bad_bearer.status_code == 429 and bad_bearer.json()["errorCode"] == "429.001.01"
        assert_retry_after(bad_bearer)
        good_bearer = await c.post(
            "/simportal/v1/allsims",
            headers={"Authorization": f"Bearer {token}"},
            json={"vpnGroup": [demo.vpn_group], "username": demo.username, "startAtIndex": "0"},
        )
        assert good_bearer.status_code == 200, good_bearer.text


def m2m_document(username: str, password: str) -> str:
    return (
        '<query_sms_mt_details version="1" api_id="7"><authentication>'
        f"<username>{username}</username><password>{password}</password>"
        "</authentication><iccid>89254014010100030360</iccid></query_sms_mt_details>"
    )


async def test_m2m_429_and_a_valid_login_still_gets_in(jumbe: Jumbe) -> None:
    demo = demo_of(jumbe)

    async def post(c: httpx.AsyncClient, password: str) -> tuple[int, str, httpx.Response]:
        answer = await c.post(
            "/m2m/api",
            content=m2m_document(demo.m2m_username, password),
            headers={"Content-Type": "application/xml"},
        )
        return answer.status_code, fromstring(answer.content).findtext("error_description"), answer

    async with http(jumbe) as c:
        for _ in range(LIMIT):
            status, error, _ = await post(c, secrets.token_hex(8))
            assert (status, error) == (200, "invalid authentication credentials")
        status, error, throttled = await post(c, "guess")
        assert status == 429 and error.startswith("Too many attempts")
        assert_retry_after(throttled)
        assert throttled.headers["content-type"] == "application/xml; charset=utf-8"
        status, error, _ = await post(c, demo.m2m_password)
    assert status == 200 and error.startswith("unknown iccid"), error  # authenticated


async def test_smpp_binds_are_throttled_and_logged_without_the_password(
    jumbe: Jumbe, caplog: pytest.LogCaptureFixture
) -> None:
    demo = demo_of(jumbe)
    caplog.set_level(logging.WARNING, logger="jumbe.faces.smpp.server")
    statuses = [await bind(jumbe, demo.team_code, f"wrong{n:03d}") for n in range(LIMIT + 1)]
    assert statuses == [CommandStatus.ESME_RBINDFAIL] * LIMIT + [CommandStatus.ESME_RTHROTTLED]
    assert await bind(jumbe, demo.team_code, demo.api_token) == CommandStatus.ESME_ROK
    refusals = [r.getMessage() for r in caplog.records if "SMPP bind refused" in r.getMessage()]
    assert len(refusals) == LIMIT + 1
    assert f"system_id={demo.team_code!r} peer=127.0.0.1" in refusals[0]
    assert "wrong SMPP password" in refusals[0] and "ESME_RBINDFAIL" in refusals[0]
    assert "ESME_RTHROTTLED" in refusals[-1] and "try again in" in refusals[-1]
    assert not any("wrong0" in r for r in refusals)


async def test_failures_at_one_face_count_at_the_others(jumbe: Jumbe) -> None:
    demo = demo_of(jumbe)
    async with http(jumbe) as c:
        for _ in range(LIMIT):
            await messages(c, wrong_token())
        oauth = await c.get(GENERATE, auth=(demo.daraja_consumer_key, "nope"))
    assert oauth.status_code == 429


class running:
    """A Jumbe started with some settings changed, stopped on leaving."""

    def __init__(self, settings: Settings, **changes: object) -> None:
        self.jumbe = Jumbe(settings.model_copy(update=changes))

    async def __aenter__(self) -> Jumbe:
        await self.jumbe.start()
        return self.jumbe

    async def __aexit__(self, *_exc: object) -> None:
        await self.jumbe.stop()
