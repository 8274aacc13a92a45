"""Sends mail from the outbox over SMTP (aiosmtplib), and forgets old mail.

``smtp://`` connects in the clear and upgrades with STARTTLS whenever the
server offers it; ``smtps://`` speaks TLS from the start. A mail the server
does not take (down, refusing, timing out) stays in the outbox and is tried
again with backoff (``services.mail.retry_delay``) for up to two days, so a
mail server that is down for a while loses nothing. Without SMTP the worker
only prunes: the outbox is then the local mailbox.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from jumbe.engine.background import LoopTask, repeat
from jumbe.services.mail import Mail, MailService
from jumbe.settings import SmtpEndpoint

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0
PRUNE_INTERVAL = 3600.0
BATCH = 20
SEND_TIMEOUT = 30.0


class MailSender:
    def __init__(self, mail: MailService, smtp: SmtpEndpoint | None, *, sender: str) -> None:
        self.mail = mail
        self.smtp = smtp
        self.sender = sender
        self._loop = LoopTask("mailer")
        self._prune_at = 0.0  # the first pass prunes

    def start(self) -> None:
        self._loop.start(repeat(self._send_pass, POLL_INTERVAL, what="mailer"))

    async def stop(self) -> None:
        await self._loop.stop()

    async def _send_pass(self) -> None:
        now = asyncio.get_running_loop().time()
        if now >= self._prune_at:
            await self.mail.prune()
            self._prune_at = now + PRUNE_INTERVAL
        if self.smtp is not None:
            for mail in await self.mail.claim(limit=BATCH):
                await self._send(self.smtp, mail)

    async def _send(self, smtp: SmtpEndpoint, mail: Mail) -> None:
        try:
            await aiosmtplib.send(
                self._message(mail),
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.tls,
                start_tls=False if smtp.tls else None,  # None: STARTTLS when offered
                timeout=SEND_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if await self.mail.not_sent(mail, error):
                log.warning("mail %d to %s given up: %s", mail.id, mail.to, error)
            else:
                log.info("mail %d not sent, will retry: %s", mail.id, error)
            return
        await self.mail.sent(mail)

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="jumbe")
        message.set_content(mail.body)
        return message
