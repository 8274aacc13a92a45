"""The operator's staff: made by the CLI, signed in apart, never confused with customers."""

from __future__ import annotations

import asyncio

from jumbe.app import Jumbe
from tests.integration.signup_helpers import (
    PASSWORD,
    STAFF,
    bearer,
    cli,
    http,
    login,
    signed_up,
    staff_session,
)


async def test_staff_see_every_account_and_customers_never_pass_as_staff(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    async with http(jumbe) as c:
        customer = await signed_up(jumbe, c, "owner@duka.co.ke")
        staff = await staff_session(jumbe, c)

        every = await c.get("/api/v1/staff/accounts", headers=bearer(staff))
        assert every.status_code == 200, every.text
        page = every.json()["data"]
        assert page["total"] == 2 and page["total_pages"] == 1
        assert [a["name"] for a in page["items"]] == ["Duka Letu Ltd", "demo"]
        assert page["items"][0]["owners"] == ["owner@duka.co.ke"]
        for search in ("duka  LETU", "owner@duka", page["items"][0]["team_code"].lower()):
            found = await c.get(
                "/api/v1/staff/accounts", headers=bearer(staff), params={"search": search}
            )
            assert [a["name"] for a in found.json()["data"]["items"]] == ["Duka Letu Ltd"]
        paged = await c.get(
            "/api/v1/staff/accounts", headers=bearer(staff), params={"page": 2, "page_size": 1}
        )
        assert [a["name"] for a in paged.json()["data"]["items"]] == ["demo"]
        wildcard = await c.get(
            "/api/v1/staff/accounts", headers=bearer(staff), params={"search": "%"}
        )
        assert wildcard.json()["data"]["total"] == 0

        # a customer's session (an owner's), an API token, nothing: not staff
        for headers in (bearer(customer), bearer(jumbe.demo.api_token), {}):
            refused = await c.get("/api/v1/staff/accounts", headers=headers)
            assert refused.status_code == 401, refused.text
        # a customer's credentials do not sign in as staff, nor staff's as a customer
        customer_as_staff = await c.post(
            "/api/v1/staff/login", json={"email": "owner@duka.co.ke", "password": PASSWORD}
        )
        assert customer_as_staff.status_code == 401
        assert (await login(c, STAFF, PASSWORD)).status_code == 401

        # a staff session is no customer session
        for path in ("/api/v1/tokens", "/api/v1/team/members", "/api/v1/auth/me"):
            answer = await c.get(path, headers=bearer(staff))
            assert answer.status_code == 401, (path, answer.text)
            assert answer.json()["error"] == "Invalid session token"

        listed = await asyncio.to_thread(cli, jumbe, "staff", "list")
        assert listed.exit_code == 0 and f"{STAFF}  active  Ops Desk" in listed.stdout
        disabled = await asyncio.to_thread(cli, jumbe, "staff", "disable", STAFF)
        assert disabled.exit_code == 0, disabled.output
        ended = await c.get("/api/v1/staff/accounts", headers=bearer(staff))
        assert ended.status_code == 401
        again = await c.post("/api/v1/staff/login", json={"email": STAFF, "password": PASSWORD})
        assert again.status_code == 403

        twice = await asyncio.to_thread(cli, jumbe, "staff", "create", STAFF)
        assert twice.exit_code == 2 and "already staff" in twice.output
