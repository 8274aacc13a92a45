"""Self-service registration, email verification and password reset.

A customer who registers gets an account and becomes its owner, unverified:
they cannot sign in until they open the link mailed to them. The account has
what a self-registered customer should have and nothing an operator must
grant: its wallets (empty: no demo units), team code (its SMPP system_id),
account number and webhook secret. No short code or sender ID (those are
applied for and approved), no API token, Daraja or M2M credentials and no
SMPP password: the owner makes tokens after signing in, and the operator
provisions the rest.

Links are signed and expire (``signed_tokens``); each is single-use because it
is bound to what it changes: a verification link to the unverified address,
a reset link to the password hash it replaces. A new password also ends every
session issued before it (the session generation moves on).

Mail requests (registration, resend, reset) are limited per address and per
email so that nobody uses Jumbe to flood a stranger's mailbox; a reset
request answers the same whether or not the email has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Row

from jumbe.core.client_address import counting_key
from jumbe.core.clock import utcnow
from jumbe.services.accounts import checked_name as checked_organisation
from jumbe.services.accounts import insert_account, write_new_account
from jumbe.services.errors import Conflict
from jumbe.services.limits import AttemptLimiter
from jumbe.services.mail import MailService
from jumbe.services.passwords import Passwords
from jumbe.services.people import check_password, checked_email, checked_name, checked_phone
from jumbe.services.signed_tokens import LinkClaims, LinkTokens
from jumbe.services.signing_keys import SigningKeys
from jumbe.services.users import insert_user
from jumbe.store.database import Database
from jumbe.store.schema import accounts, users

VERIFY_PATH = "/api/v1/auth/verify"
RESET_PATH = "/api/v1/auth/password-reset"
VERIFY_FOR = timedelta(hours=48)
RESET_FOR = timedelta(hours=1)
MAILS_PER_EMAIL_PER_MINUTE = 3
REQUESTS_PER_ADDRESS_PER_MINUTE = 10


@dataclass(frozen=True, slots=True)
class Registered:
    email: str
    account_name: str
    team_code: str


@dataclass(frozen=True, slots=True)
class ResetLink:
    """A reset link that is still good, for the page that asks for the new password."""

    email: str
    expires_at: datetime


class SignupService:
    def __init__(
        self, db: Database, passwords: Passwords, mail: MailService, keys: SigningKeys
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.mail = mail
        self.verify_links = LinkTokens(keys, purpose="verify", lifetime=VERIFY_FOR)
        self.reset_links = LinkTokens(keys, purpose="reset", lifetime=RESET_FOR)
        self._per_address = AttemptLimiter(REQUESTS_PER_ADDRESS_PER_MINUTE)
        self._per_email = AttemptLimiter(MAILS_PER_EMAIL_PER_MINUTE)

    async def register(
        self,
        *,
        organisation: str,
        name: str,
        email: str,
        phone: str,
        password: str,
        client: str,
    ) -> Registered:
        """A new account with its owner, unverified, and the verification mail."""
        organisation = checked_organisation(organisation)
        name, email, phone = checked_name(name), checked_email(email), checked_phone(phone)
        await check_password(password, (email, name, organisation))
        self._limit(client, email)  # counted once it would mail: a retried password is free
        password_hash = await self.passwords.hash(password)
        sign = await self.verify_links.signer()
        now = utcnow()

        def provision(conn: Connection) -> Registered:
            if _user_by_email(conn, email) is not None:
                raise Conflict("an account with this email already exists: sign in instead")
            account = insert_account(conn, organisation, now=now)
            user_id = insert_user(
                conn,
                account.id,
                email,
                password_hash,
                "owner",
                frozenset(),
                now,
                email=email,
                name=name,
                phone=phone,
            )
            self._queue_verification(conn, email, name, sign(user_id, _verify_state(email, None)))
            return Registered(email, organisation, account.team_code)

        return await write_new_account(self.db, provision)

    async def verify_email(self, token: str) -> str:
        """Mark the address of a verification link verified; the address."""
        claims = await self.verify_links.read(token)

        def verify(conn: Connection) -> str:
            user = _user(conn, claims)
            claims.check(_verify_state(user.email, user.email_verified_at) if user else None)
            assert user is not None
            conn.execute(
                update(users).where(users.c.id == user.id).values(email_verified_at=utcnow())
            )
            return str(user.email)

        return await self.db.write(verify)

    async def resend_verification(self, email: str, *, client: str) -> None:
        """Another verification link for a registered, unverified address; silence otherwise."""
        email = checked_email(email)
        self._limit(client, email)
        sign = await self.verify_links.signer()

        def resend(conn: Connection) -> None:
            user = _user_by_email(conn, email)
            if user is None or user.email_verified_at is not None or user.password_hash is None:
                return
            link = sign(user.id, _verify_state(email, None))
            self._queue_verification(conn, email, user.name or "", link)

        await self.db.write(resend)

    async def request_password_reset(self, email: str, *, client: str) -> None:
        """Mail a reset link to a user with this address and a password; silence otherwise.

        The caller answers the same either way: whether an address has an
        account is nobody's business but its owner's.
        """
        email = checked_email(email)
        self._limit(client, email)
        sign = await self.reset_links.signer()

        def request(conn: Connection) -> None:
            user = _user_by_email(conn, email)
            if user is None or user.password_hash is None:
                return
            link = self.mail.link(RESET_PATH, sign(user.id, _reset_state(user.password_hash)))
            self.mail.queue(
                conn,
                email,
                "Reset your Jumbe password",
                f"Hello {user.name or email},\n\n"
                "Someone (we hope you) asked to reset the password of your Jumbe account.\n"
                f"Choose a new one within {_hours(RESET_FOR)} through this link:\n\n"
                f"{link}\n\n"
                "Setting a new password signs you out everywhere. If you did not ask,"
                " ignore this mail: your password stays as it is.\n",
            )

        await self.db.write(request)

    async def check_reset(self, token: str) -> ResetLink:
        """Whose password a reset link would change, if it is still good (nothing changes)."""
        claims = await self.reset_links.read(token)

        def check(conn: Connection) -> ResetLink:
            user = _user(conn, claims)
            claims.check(_reset_state(user.password_hash) if user else None)
            assert user is not None
            return ResetLink(str(user.email), claims.expires_at)

        return await self.db.read(check)

    async def reset_password(self, token: str, password: str) -> str:
        """Set a new password through a reset link; the address. Sessions before it end."""
        claims = await self.reset_links.read(token)
        whose = await self.db.read(lambda conn: _personal(conn, claims.subject))
        await check_password(password, whose)
        password_hash = await self.passwords.hash(password)

        def reset(conn: Connection) -> str:
            user = _user(conn, claims, lock=True)
            claims.check(_reset_state(user.password_hash) if user else None)
            assert user is not None
            set_password(conn, user.id, password_hash, verified=True)
            return str(user.email)

        return await self.db.write(reset)

    def _queue_verification(self, conn: Connection, email: str, name: str, token: str) -> None:
        link = self.mail.link(VERIFY_PATH, token)
        self.mail.queue(
            conn,
            email,
            "Verify your email for Jumbe",
            f"Hello {name or email},\n\n"
            f"Confirm that {email} is yours to finish signing up to Jumbe. Open this link"
            f" within {_hours(VERIFY_FOR)}:\n\n"
            f"{link}\n\n"
            "If you did not sign up, ignore this mail: nothing happens without the link.\n",
        )

    def _limit(self, client: str, email: str) -> None:
        """429 past the mail limits: per client address, and per email (whoever asks)."""
        self._per_address.attempt(counting_key(client))
        self._per_email.attempt(email)


def set_password(conn: Connection, user_id: int, password_hash: str, *, verified: bool) -> None:
    """A user's new password, in the caller's transaction; every earlier session ends.

    ``verified``: the password was set through a mailed link, which proves the address.
    """
    values: dict[str, object] = {
        "password_hash": password_hash,
        "session_generation": users.c.session_generation + 1,
    }
    if verified:
        values["email_verified_at"] = func.coalesce(users.c.email_verified_at, utcnow())
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def _user(
    conn: Connection, claims: LinkClaims, *, lock: bool = False
) -> Row[tuple[object, ...]] | None:
    query = select(users).where(users.c.id == claims.subject)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).one_or_none()


def _user_by_email(conn: Connection, email: str) -> Row[tuple[object, ...]] | None:
    return conn.execute(select(users).where(users.c.email == email)).one_or_none()


def _personal(conn: Connection, user_id: int) -> tuple[str, ...]:
    """What a user told us about themselves, that their password must not be built on."""
    row = conn.execute(
        select(users.c.email, users.c.name, accounts.c.name.label("organisation"))
        .join(accounts, accounts.c.id == users.c.account_id)
        .where(users.c.id == user_id)
    ).one_or_none()
    return tuple(v for v in row if v) if row else ()


def _verify_state(email: object, verified_at: object) -> str:
    return f"verify:{email}:{verified_at is not None}"


def _reset_state(password_hash: object) -> str:
    return f"reset:{password_hash}"


def _hours(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return "an hour" if hours == 1 else f"{hours} hours"
