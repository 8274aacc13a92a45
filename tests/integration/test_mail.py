"""Mail: the local outbox read with `jumbe mail`, and SMTP against a real local server.

The SMTP server is aiosmtpd (with AUTH), started only after the first
attempt failed: a mail server that is down loses nothing.
"""

from __future__ import annotations

import asyncio
import re
import socket
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from jumbe.app import Jumbe
from jumbe.settings import Settings
from tests.conftest import wait_until
from tests.integration.signup_helpers import LINK, http, last_mail, login, register
from tests.integration.test_auth_throttle import running
from tests.integration.test_staff import cli

EMAIL = "wanjiku@duka.co.ke"


async def test_the_local_outbox_through_the_cli(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        assert (await register(c, EMAIL)).status_code == 200
        listed = await asyncio.to_thread(cli, jumbe, "mail", "list")
        assert listed.exit_code == 0, listed.output
        line = listed.stdout.strip().splitlines()[0]
        assert f"local    {EMAIL}  Verify your email for Jumbe" in line
        mail_id = line.split()[0]

        shown = await asyncio.to_thread(cli, jumbe, "mail", "show", mail_id)
        assert shown.exit_code == 0, shown.output
        assert f"To: {EMAIL}\nSubject: Verify your email for Jumbe\n" in shown.stdout
        found = LINK.search(shown.stdout)
        assert found is not None
        assert (await c.get(found.group(0))).status_code == 200
        assert (await login(c, EMAIL)).status_code == 200

        missing = await asyncio.to_thread(cli, jumbe, "mail", "show", "999999")
        assert missing.exit_code == 2 and "no mail 999999" in missing.output


class Inbox:
    def __init__(self) -> None:
        self.received: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.received.append(message_from_bytes(envelope.content))
        return "250 OK"


def only_jumbe(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"jumbe",
        b"s3cret:pw",
    )
    return AuthResult(success=good)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_smtp_down_then_up_loses_nothing(settings: Settings) -> None:
    port = free_port()
    smtp_url = f"smtp://jumbe:s3cret%3Apw@127.0.0.1:{port}"
    async with running(settings, smtp_url=smtp_url) as jumbe, http(jumbe) as c:
        assert (await register(c, EMAIL)).status_code == 200
        queued = await last_mail(jumbe, EMAIL)
        assert queued.status == "pending"

        async def failed_once() -> bool:
            mail = await last_mail(jumbe, EMAIL)
            return mail.attempts >= 1 and mail.status == "pending"

        await wait_until(failed_once, within=15, what="a first attempt against the down server")
        assert (await last_mail(jumbe, EMAIL)).last_error  # why it was not sent, for the operator

        inbox = Inbox()
        server = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            authenticator=only_jumbe,
            auth_require_tls=False,
        )
        server.start()
        try:

            async def sent() -> bool:
                return (await last_mail(jumbe, EMAIL)).status == "sent"

            await wait_until(sent, within=20, what="the mail sent once the server is up")
        finally:
            server.stop()

        assert len(inbox.received) == 1
        message = inbox.received[0]
        assert message["To"] == EMAIL
        assert message["Subject"] == "Verify your email for Jumbe"
        assert message["From"] == settings.mail_from
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        link = re.search(r"https?://\S+", body.decode())
        assert link is not None
        # the outbox keeps the record, not the live link
        kept = await last_mail(jumbe, EMAIL)
        assert kept.body == "" and kept.sent_at is not None
        shown = await asyncio.to_thread(cli, jumbe, "mail", "show", str(kept.id))
        assert "(body dropped after it was sent)" in shown.stdout

        assert (await c.get(link.group(0))).status_code == 200
        assert (await login(c, EMAIL)).status_code == 200
