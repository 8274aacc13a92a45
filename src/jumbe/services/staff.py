"""The operator's staff: platform-level people who see every account.

Staff are kept in their own table and sign in at their own endpoint for a
session of their own audience, signed with their own key
(``signed_tokens``): a customer's session, however high their role in their
own team, never verifies as staff, and a staff session is no customer's.
A staff member is made from the command line (``jumbe staff create``), which
prints a link to set the password; the link works once and expires.
Disabling a member of staff ends their sessions at once (every request
reads their row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from jumbe.core.clock import utcnow
from jumbe.services.errors import Conflict, Forbidden, NotFound, Unauthenticated
from jumbe.services.mail import MailService
from jumbe.services.passwords import Passwords
from jumbe.services.people import check_password, checked_email, checked_name
from jumbe.services.signed_tokens import IssuedSession, LinkTokens, SessionTokens
from jumbe.services.signing_keys import SigningKeys
from jumbe.services.throttle import Attempt
from jumbe.store.database import Database
from jumbe.store.schema import staff

PASSWORD_PATH = "/api/v1/staff/password"
PASSWORD_LINK_FOR = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class StaffCaller:
    """A member of the operator's staff, signed in. Only ``StaffService`` makes one."""

    staff_id: int
    email: str


@dataclass(frozen=True, slots=True)
class StaffView:
    uuid: str
    email: str
    name: str
    status: str
    has_password: bool
    created_at: datetime


class StaffService:
    def __init__(
        self,
        db: Database,
        passwords: Passwords,
        mail: MailService,
        keys: SigningKeys,
        *,
        lifetime: timedelta,
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.throttle = passwords.throttle
        self.mail = mail
        self.sessions = SessionTokens(keys, audience="staff", lifetime=lifetime)
        self.links = LinkTokens(keys, purpose="staff-password", lifetime=PASSWORD_LINK_FOR)

    async def create(self, email: str, name: str = "") -> tuple[StaffView, str]:
        """A new member of staff, and the link where they set their password (shown once)."""
        email = checked_email(email)
        name = checked_name(name) if name.strip() else ""
        sign = await self.links.signer()

        def create(conn: Connection) -> tuple[StaffView, str]:
            staff_id = conn.execute(
                insert(staff)
                .values(uuid=str(uuid.uuid4()), email=email, name=name, created_at=utcnow())
                .returning(staff.c.id)
            ).scalar_one()
            row = _row(conn, staff_id)
            return _view(row), self.mail.link(PASSWORD_PATH, sign(staff_id, _state(row)))

        try:
            return await self.db.write(create)
        except IntegrityError:
            raise Conflict(f"{email} is already staff") from None

    async def password_link(self, email: str) -> str:
        """A new set-password link (a forgotten password); earlier ones still work until used."""
        sign = await self.links.signer()

        def link(conn: Connection) -> str:
            row = conn.execute(select(staff).where(staff.c.email == _lower(email))).one_or_none()
            if row is None:
                raise NotFound(f"no staff {email}")
            return self.mail.link(PASSWORD_PATH, sign(row.id, _state(row)))

        return await self.db.read(link)

    async def list_staff(self) -> list[StaffView]:
        rows = await self.db.read(
            lambda conn: conn.execute(select(staff).order_by(staff.c.id)).all()
        )
        return [_view(r) for r in rows]

    async def set_status(self, email: str, status: str) -> StaffView:
        """``disabled`` ends the member's sessions at once; ``active`` lets them in again."""

        def change(conn: Connection) -> StaffView:
            found = conn.execute(
                update(staff)
                .where(staff.c.email == _lower(email))
                .values(status=status, session_generation=staff.c.session_generation + 1)
                .returning(staff.c.id)
            ).scalar_one_or_none()
            if found is None:
                raise NotFound(f"no staff {email}")
            return _view(_row(conn, found))

        return await self.db.write(change)

    async def check_password_link(self, token: str) -> str:
        """Whose password a link would set, while it is still good; the email."""
        claims = await self.links.read(token)

        def check(conn: Connection) -> str:
            row = _find(conn, claims.subject)
            claims.check(_state(row) if row else None)
            assert row is not None
            return str(row.email)

        return await self.db.read(check)

    async def set_password(self, token: str, password: str) -> str:
        """Set a password through a link; the email. Sessions issued before it end."""
        email = await self.check_password_link(token)
        claims = await self.links.read(token)
        await check_password(password, (email,))
        password_hash = await self.passwords.hash(password)

        def set_it(conn: Connection) -> str:
            row = conn.execute(
                select(staff).where(staff.c.id == claims.subject).with_for_update()
            ).one_or_none()
            claims.check(_state(row) if row else None)
            conn.execute(
                update(staff)
                .where(staff.c.id == claims.subject)
                .values(
                    password_hash=password_hash,
                    session_generation=staff.c.session_generation + 1,
                )
            )
            return email

        return await self.db.write(set_it)

    async def login(self, email: str, password: str, *, client: str) -> IssuedSession:
        """A staff session; throttled per address and per email like every sign-in."""
        if not email or not password:
            raise Unauthenticated("email and password are required")
        attempt = Attempt.of(client, "staff", _lower(email))
        query = select(staff).where(staff.c.email == _lower(email))
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        held = row.password_hash if row is not None else None
        if row is None or not await self.passwords.sign_in(held, password, attempt):
            raise self.throttle.failed(attempt, Unauthenticated("wrong email or password"))
        if row.status != "active":
            raise Forbidden("this staff account is disabled")
        return await self.sessions.issue(row.id, row.session_generation)

    async def authenticate(self, raw: str) -> StaffCaller:
        """The member of staff behind a staff session that is still theirs."""
        claims = await self.sessions.read(raw)
        row = await self.db.read(lambda conn: _find(conn, claims.subject))
        if (
            row is None
            or row.status != "active"
            or row.session_generation != claims.generation
            or row.password_hash is None
        ):
            raise Unauthenticated("session has ended: sign in again")
        return StaffCaller(staff_id=row.id, email=row.email)


def _lower(email: str) -> str:
    return email.strip().lower()


def _find(conn: Connection, staff_id: int) -> Row[tuple[object, ...]] | None:
    return conn.execute(select(staff).where(staff.c.id == staff_id)).one_or_none()


def _row(conn: Connection, staff_id: int) -> Row[tuple[object, ...]]:
    row = _find(conn, staff_id)
    if row is None:
        raise NotFound("no such staff")
    return row


def _state(row: Row[tuple[object, ...]]) -> str:
    return f"staff-password:{row.password_hash}"


def _view(r: Row[tuple[object, ...]]) -> StaffView:
    return StaffView(
        uuid=str(r.uuid),
        email=str(r.email),
        name=str(r.name),
        status=str(r.status),
        has_password=r.password_hash is not None,
        created_at=r.created_at,
    )
