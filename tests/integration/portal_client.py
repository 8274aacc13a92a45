"""A browser without a browser: an httpx client that keeps the portal's cookies and
sends each form back with the CSRF token the page gave it."""

from __future__ import annotations

import re
from typing import Any

import httpx

from jumbe.app import Jumbe
from tests.integration.signup_helpers import STRONG, last_mail, link_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Portal:
    def __init__(self, jumbe: Jumbe) -> None:
        self.jumbe = jumbe
        self.http = httpx.AsyncClient(base_url=jumbe.base_url, timeout=15)

    async def __aenter__(self) -> Portal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def csrf(self, page: str) -> str:
        answer = await self.http.get(page)
        found = CSRF.search(answer.text)
        assert found is not None, (page, answer.status_code, answer.text[:500])
        return found.group(1)

    async def submit(
        self, page: str, action: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        """Open ``page`` (for its token) and POST its form to ``action``."""
        token = await self.csrf(page)
        return await self.http.post(action, data={**(data or {}), "csrf": token}, **kw)

    async def sign_up(self, email: str, organisation: str = "Duka Letu Ltd") -> None:
        answer = await self.submit(
            "/signup",
            "/signup",
            {
                "organisation": organisation,
                "name": "Wanjiku Kamau",
                "email": email,
                "phone": "0712 345 678",
                "password": STRONG,
            },
        )
        assert answer.status_code == 200 and "Check your mail" in answer.text, answer.text
        link = link_in(await last_mail(self.jumbe, email))
        verified = await self.http.get(link, headers={"Accept": "text/html"}, follow_redirects=True)
        assert verified.status_code == 200 and "Email verified" in verified.text, verified.text

    async def sign_in(self, email: str, password: str = STRONG) -> httpx.Response:
        return await self.submit("/signin", "/signin", {"email": email, "password": password})
