"""Helpers for the sign-up, team and staff tests: register, read the outbox, sign in."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from typer.testing import CliRunner, Result

from jumbe.app import Jumbe
from jumbe.cli import app
from jumbe.services.mail import Mail

STRONG = "Kettle-Mango-Rhino-42"
ORGANISATION = "Duka Letu Ltd"
LINK = re.compile(r"https?://\S+")


def http(jumbe: Jumbe) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=jumbe.base_url, timeout=15)


async def register(
    c: httpx.AsyncClient,
    email: str,
    *,
    organisation: str = ORGANISATION,
    password: str = STRONG,
    name: str = "Wanjiku Kamau",
) -> httpx.Response:
    return await c.post(
        "/api/v1/auth/register",
        json={
            "organisation": organisation,
            "name": name,
            "email": email,
            "phone": "0712 345 678",
            "password": password,
        },
    )


async def last_mail(jumbe: Jumbe, to: str) -> Mail:
    found = await jumbe.services.mail.list_mail(to=to, limit=1)
    assert found, f"no mail to {to}"
    return found[0]


def link_in(mail: Mail) -> str:
    found = LINK.search(mail.body)
    assert found is not None, mail.body
    return found.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def login(c: httpx.AsyncClient, email: str, password: str = STRONG) -> httpx.Response:
    return await c.post("/api/v1/auth/login", json={"email": email, "password": password})


async def signed_up(jumbe: Jumbe, c: httpx.AsyncClient, email: str, **kw: Any) -> str:
    """Register, verify by the mailed link and sign in: the session (a JWT)."""
    assert (await register(c, email, **kw)).status_code == 200
    verified = await c.get(link_in(await last_mail(jumbe, email)))
    assert verified.status_code == 200, verified.text
    answer = await login(c, email, kw.get("password", STRONG))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


STAFF = "ops@jumbe-operator.co.ke"
PASSWORD = "Marula-Compass-Heron-58"


def cli(jumbe: Jumbe, *args: str) -> Result:
    """The command as an operator runs it, on the server's data dir and database."""
    return CliRunner().invoke(
        app,
        [*args, "--data-dir", str(jumbe.settings.data_dir)],
        env={"JUMBE_DATABASE_URL": jumbe.settings.database_url},
    )


async def staff_session(jumbe: Jumbe, c: httpx.AsyncClient) -> str:
    made = await asyncio.to_thread(cli, jumbe, "staff", "create", STAFF, "--name", "Ops Desk")
    assert made.exit_code == 0, made.output
    link = made.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{jumbe.local_url}/api/v1/staff/password?token=")  # the running server
    assert (await c.get(link)).json()["data"]["email"] == STAFF
    weak = await c.post(
        "/api/v1/staff/password", json={"token": token_of(link), "password": "jumbe-operator"}
    )
    assert weak.status_code == 400
    done = await c.post(
        "/api/v1/staff/password", json={"token": token_of(link), "password": PASSWORD}
    )
    assert done.status_code == 200, done.text
    reused = await c.post(
        "/api/v1/staff/password", json={"token": token_of(link), "password": PASSWORD + "x"}
    )
    assert reused.status_code == 400
    signed_in = await c.post("/api/v1/staff/login", json={"email": STAFF, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return str(signed_in.json()["data"]["access_token"])
