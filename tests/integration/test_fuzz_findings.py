"""What the API fuzz found, each kept fixed by a test of its own."""

from __future__ import annotations

import httpx

from jumbe.app import Jumbe
from tests.integration.api_world import STAFF_EMAIL, STAFF_PASSWORD


async def test_an_account_id_past_the_database_integers_is_a_bad_request(jumbe: Jumbe) -> None:
    """PUT /api/v1/staff/accounts/9223372036854775808/pricing answered 500 (OverflowError)."""
    staff = jumbe.services.staff
    _view, link = await staff.create(STAFF_EMAIL, "Ops Desk")
    await staff.set_password(link.rsplit("token=", 1)[1], STAFF_PASSWORD)
    session = (await staff.login(STAFF_EMAIL, STAFF_PASSWORD, client="test")).token
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=10) as c:
        for account_id in ("9223372036854775808", "99999999999999999999999", "0", "-1"):
            answer = await c.put(
                f"/api/v1/staff/accounts/{account_id}/pricing",
                headers={"Authorization": f"Bearer {session}"},
                json={"pricing": "kimisms"},
            )
            assert answer.status_code == 400, (account_id, answer.text)
            assert answer.json()["success"] is False
