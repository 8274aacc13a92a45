"""Mail to people: written in the transaction that has something to say, sent later.

A verification mail is written in the transaction that creates the user, so
there is never a user whose mail was lost, nor mail about a user who was
not created. Without SMTP (``JUMBE_SMTP_URL``) the mail stays in the table,
which is then the local outbox read by ``jumbe mail list`` / ``show``; with
SMTP the mail worker (``engine.mailer``) sends it, retrying while the server
is down, and once it is sent its body is dropped: it holds a live link, and
the recipient's mailbox is where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from jumbe.core.backoff import doubling_delay
from jumbe.core.clock import utcnow
from jumbe.services.errors import NotFound
from jumbe.store.database import Database
from jumbe.store.schema import mail_outbox

LEASE = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(days=2)  # the longest a mailed link is worth sending for
KEEP = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Mail:
    id: int
    to: str
    subject: str
    body: str
    status: str  # local (kept here, no SMTP), pending, sent, failed
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def retry_delay(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … at most 5 minutes, with jitter: a mail server back up is soon used."""
    return doubling_delay(1.0, attempts, 300.0)


class MailService:
    def __init__(self, db: Database, *, smtp: bool, public_url: Callable[[], str]) -> None:
        self.db = db
        self.smtp = smtp
        self.public_url = public_url

    def link(self, path: str, token: str) -> str:
        """A link for a mail: the server's public URL, ``path`` and the token."""
        return f"{self.public_url().rstrip('/')}{path}?{urlencode({'token': token})}"

    def queue(self, conn: Connection, to: str, subject: str, body: str) -> int:
        """A mail in the caller's transaction; its id."""
        now = utcnow()
        return int(
            conn.execute(
                insert(mail_outbox)
                .values(
                    to_address=to,
                    subject=subject,
                    body=body,
                    status="pending" if self.smtp else "local",
                    next_attempt_at=now,
                    created_at=now,
                )
                .returning(mail_outbox.c.id)
            ).scalar_one()
        )

    async def list_mail(self, *, limit: int = 50, to: str | None = None) -> list[Mail]:
        """The newest mail first."""
        query = select(mail_outbox).order_by(mail_outbox.c.id.desc()).limit(limit)
        if to:
            query = query.where(mail_outbox.c.to_address == to.strip().lower())
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [_mail(r) for r in rows]

    async def show(self, mail_id: int) -> Mail:
        query = select(mail_outbox).where(mail_outbox.c.id == mail_id)
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None:
            raise NotFound(f"no mail {mail_id}")
        return _mail(row)

    async def claim(self, *, limit: int) -> list[Mail]:
        """Lease mail that is due for sending (FOR UPDATE SKIP LOCKED across nodes)."""
        skip_locked = not self.db.is_sqlite

        def lease_due_mail(conn: Connection) -> list[Mail]:
            now = utcnow()
            m = mail_outbox
            due = (
                select(m.c.id)
                .where(
                    m.c.status == "pending",
                    m.c.next_attempt_at <= now,
                    or_(m.c.lease_until.is_(None), m.c.lease_until < now),
                )
                .order_by(m.c.next_attempt_at)
                .limit(limit)
            )
            if skip_locked:
                due = due.with_for_update(skip_locked=True)
            claimed = conn.execute(
                update(m).where(m.c.id.in_(due)).values(lease_until=now + LEASE).returning(m)
            )
            return [_mail(r) for r in claimed.all()]

        return await self.db.write(lease_due_mail)

    async def sent(self, mail: Mail) -> None:
        """Sent: the body (a live link) is dropped, the record kept."""
        now = utcnow()
        await self.db.write(
            lambda conn: conn.execute(
                update(mail_outbox)
                .where(mail_outbox.c.id == mail.id)
                .values(
                    status="sent",
                    body="",
                    attempts=mail.attempts + 1,
                    lease_until=None,
                    last_error=None,
                    sent_at=now,
                )
            )
        )

    async def not_sent(self, mail: Mail, error: str) -> bool:
        """A failed attempt: tried again later, or given up when the mail is too old.

        True when it was given up.
        """
        now = utcnow()
        attempts = mail.attempts + 1
        give_up = now - mail.created_at > GIVE_UP_AFTER
        await self.db.write(
            lambda conn: conn.execute(
                update(mail_outbox)
                .where(mail_outbox.c.id == mail.id)
                .values(
                    status="failed" if give_up else "pending",
                    attempts=attempts,
                    next_attempt_at=now + retry_delay(attempts),
                    lease_until=None,
                    last_error=error[:255],
                )
            )
        )
        return give_up

    async def prune(self) -> int:
        """Forget mail older than ``KEEP`` that is no longer waiting to be sent."""
        before = utcnow() - KEEP
        return await self.db.write(
            lambda conn: (
                conn.execute(
                    delete(mail_outbox).where(
                        mail_outbox.c.status != "pending", mail_outbox.c.created_at < before
                    )
                ).rowcount
            )
        )


def _mail(r: Row[tuple[object, ...]]) -> Mail:
    return Mail(
        id=r.id,
        to=r.to_address,
        subject=r.subject,
        body=r.body,
        status=r.status,
        attempts=r.attempts,
        last_error=r.last_error,
        created_at=r.created_at,
        sent_at=r.sent_at,
    )
