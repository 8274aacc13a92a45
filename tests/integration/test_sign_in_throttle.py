"""Failed sign-ins get 429 with Retry-After, per address and per user (issue 12).

The default limit (30 failures a minute) is the throttle every face shares;
a right password always gets in.
"""

from __future__ import annotations

from jumbe.app import Jumbe
from jumbe.core.client_address import parse_networks
from jumbe.settings import Settings
from tests.integration.signup_helpers import STRONG, http, login, signed_up
from tests.integration.test_auth_throttle import LIMIT, assert_retry_after, running

EMAIL = "wanjiku@duka.co.ke"


async def test_one_address_guessing_many_emails_is_throttled(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        await signed_up(jumbe, c, EMAIL)
        codes = [
            (await login(c, f"guess{n}@duka.co.ke", "wrong")).status_code for n in range(LIMIT)
        ]
        assert codes == [401] * LIMIT
        refused = await login(c, "another@duka.co.ke", "wrong")
        assert refused.status_code == 429
        assert_retry_after(refused)
        assert refused.json()["error"].startswith("Too many attempts")
        # the right password still gets in from the same address
        assert (await login(c, EMAIL)).status_code == 200
        assert (await login(c, EMAIL, "wrong")).status_code == 429


async def test_one_user_guessed_from_many_addresses_is_throttled(settings: Settings) -> None:
    """Behind a trusted proxy every guess comes "from" another address: the email counts."""
    trusted = parse_networks(["127.0.0.1"])
    async with running(settings, trusted_proxies=trusted) as jumbe, http(jumbe) as c:
        await signed_up(jumbe, c, EMAIL)

        async def guess(n: int, email: str = EMAIL, password: str = "wrong") -> int:
            answer = await c.post(
                "/api/v1/auth/login",
                json={"email": email, "password": password},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            if answer.status_code == 429:
                assert_retry_after(answer)
            return answer.status_code

        assert [await guess(n) for n in range(LIMIT + 1)] == [401] * LIMIT + [429]
        assert await guess(200, email="other@duka.co.ke") == 401  # another user: not locked
        assert await guess(201, password=STRONG) == 200  # the owner still gets in
