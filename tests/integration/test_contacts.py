"""Contacts and groups over REST v1: the Mobile Sasa examples, verbatim, on a running server."""

from __future__ import annotations

import httpx

from jumbe.app import Jumbe
from tests.conftest import demo_token
from tests.integration.signup_helpers import bearer, http, signed_up
from tests.integration.test_team import OWNER, invited


async def test_the_documented_contact_examples(demo: httpx.AsyncClient) -> None:
    made = await demo.post(
        "/api/v1/contacts",
        headers={"Content-Type": "application/json"},
        content=b"""{
    "phone": "+254712345678",
    "first_name": "Jane",
    "last_name": "Doe",
    "email": "jane@example.com"
  }""",
    )
    assert made.status_code == 200, made.text
    contact = made.json()["data"]
    assert contact["phone"] == "+254712345678"
    assert contact["carrier"] == "safaricom"
    assert (contact["first_name"], contact["last_name"]) == ("Jane", "Doe")

    again = await demo.post("/api/v1/contacts", json={"phone": "0712345678"})
    assert again.status_code == 409 and again.json()["success"] is False

    await demo.post("/api/v1/contacts", json={"phone": "0733123456", "first_name": "Johnny"})
    await demo.post("/api/v1/contacts", json={"phone": "710000001", "last_name": "Johnson"})
    found = await demo.get("/api/v1/contacts?search=John&page_size=50")
    assert found.status_code == 200, found.text
    page = found.json()["data"]
    assert page["total"] == 2 and page["page_size"] == 50
    assert {c["phone"] for c in page["items"]} == {"+254733123456", "+254710000001"}
    carriers = {c["phone"]: c["carrier"] for c in page["items"]}
    assert carriers["+254733123456"] == "airtel"
    by_phone = await demo.get("/api/v1/contacts", params={"search": "0712 345"})
    assert [c["uuid"] for c in by_phone.json()["data"]["items"]] == [contact["uuid"]]

    changed = await demo.put(f"/api/v1/contacts/{contact['uuid']}", json={"notes": "VIP"})
    assert changed.status_code == 200, changed.text
    body = changed.json()["data"]
    assert body["notes"] == "VIP" and body["first_name"] == "Jane"  # the rest kept
    taken = await demo.put(f"/api/v1/contacts/{contact['uuid']}", json={"phone": "0733123456"})
    assert taken.status_code == 409

    bad = await demo.post("/api/v1/contacts", json={"phone": "12345"})
    assert bad.status_code == 400 and "invalid phone number" in bad.json()["error"]

    gone = await demo.delete(f"/api/v1/contacts/{contact['uuid']}")
    assert gone.status_code == 200 and gone.json()["data"]["deleted"] is True
    missing = await demo.get(f"/api/v1/contacts/{contact['uuid']}")
    assert missing.status_code == 404


async def test_the_documented_group_examples(demo: httpx.AsyncClient) -> None:
    made = await demo.post(
        "/api/v1/groups",
        headers={"Content-Type": "application/json"},
        content=b'{ "name": "VIP Customers", "description": "High-value customer segment" }',
    )
    assert made.status_code == 200, made.text
    group = made.json()["data"]
    assert group["name"] == "VIP Customers" and group["contact_count"] == 0
    twice = await demo.post("/api/v1/groups", json={"name": "VIP Customers"})
    assert twice.status_code == 409

    members = f"/api/v1/groups/{group['uuid']}/contacts"
    added = await demo.post(
        members,
        headers={"Content-Type": "application/json"},
        content=b'{ "phone": "+254712345678" }',
    )
    assert added.status_code == 200, added.text
    assert added.json()["data"]["phone"] == "+254712345678"
    await demo.post(members, json={"phone": "0712345678"})  # the same number: no twin
    listed = (await demo.get(members)).json()["data"]
    assert listed["total"] == 1 and listed["items"][0]["phone"] == "+254712345678"
    groups = (await demo.get("/api/v1/groups")).json()["data"]
    assert [(g["name"], g["contact_count"]) for g in groups] == [("VIP Customers", 1)]

    removed = await demo.delete(f"{members}/%2B254712345678")
    assert removed.status_code == 200, removed.text
    assert removed.json()["data"]["phone"] == "+254712345678"
    assert (await demo.get(members)).json()["data"]["total"] == 0
    again = await demo.delete(f"{members}/%2B254712345678")
    assert again.status_code == 404
    # the contact stays in the account's list
    assert (await demo.get("/api/v1/contacts")).json()["data"]["total"] == 1


async def test_each_route_needs_its_scope(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    raw, _view = await demo_token(jumbe, "contacts only", ["contacts"])
    headers = {"Authorization": f"Bearer {raw}"}
    assert (await demo.get("/api/v1/contacts", headers=headers)).status_code == 200
    refused = await demo.get("/api/v1/groups", headers=headers)
    assert refused.status_code == 403 and "groups" in refused.json()["error"]


async def test_members_signed_in_act_by_their_role(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        member = await invited(jumbe, c, owner, "member@duka.co.ke", "member")
        viewer = await invited(jumbe, c, owner, "viewer@duka.co.ke", "viewer")
        made = await c.post(
            "/api/v1/contacts", headers=bearer(member), json={"phone": "0712345678"}
        )
        assert made.status_code == 200, made.text
        listed = await c.get("/api/v1/contacts", headers=bearer(viewer))
        assert listed.status_code == 200 and listed.json()["data"]["total"] == 1
        refused = await c.post(
            "/api/v1/groups", headers=bearer(viewer), json={"name": "Not allowed"}
        )
        assert refused.status_code == 403, refused.text
