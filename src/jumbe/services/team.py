"""A team's members: invitations by email, roles, removal; an account always keeps an owner.

An invitation is a user row without a password (role chosen, email known)
and a mailed link; accepting it sets the invitee's name and password, which
also proves the address. The link is bound to the missing password, so it
works once. Inviting the same address again re-sends the invitation (with the
new role); an address that already signs in elsewhere cannot be invited (one
person, one account, for now).

Who may do what is ``roles``: managing the team takes ``manage_team`` (owners
and admins), and anything that makes, changes or removes an owner takes an
owner. Every change locks the account's row first, so two owners demoting
each other at the same moment cannot leave the account with none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Row

from jumbe.core.clock import utcnow
from jumbe.services.errors import Conflict, Forbidden, NotFound
from jumbe.services.mail import MailService
from jumbe.services.passwords import Passwords
from jumbe.services.people import check_password, checked_email, checked_name, checked_phone
from jumbe.services.roles import checked_role, require
from jumbe.services.signed_tokens import LinkTokens
from jumbe.services.signing_keys import SigningKeys
from jumbe.services.signup import set_password
from jumbe.services.tokens import Caller
from jumbe.services.users import insert_user, username_taken
from jumbe.store.database import Database
from jumbe.store.schema import accounts, users

INVITATION_PATH = "/api/v1/auth/invitation"
INVITATION_FOR = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Member:
    uuid: str
    email: str
    name: str
    phone: str | None
    role: str
    status: str  # active, invited (not accepted yet), unverified (registered, link not opened)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    email: str
    account_name: str
    role: str
    expires_at: datetime


class TeamService:
    def __init__(
        self, db: Database, passwords: Passwords, mail: MailService, keys: SigningKeys
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.mail = mail
        self.links = LinkTokens(keys, purpose="invitation", lifetime=INVITATION_FOR)

    async def list_members(self, caller: Caller) -> list[Member]:
        require(_role(caller), "view")
        query = (
            select(users)
            .where(users.c.account_id == caller.account_id, users.c.email.is_not(None))
            .order_by(users.c.id)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [_member(r) for r in rows]

    async def invite(self, caller: Caller, email: str, role: str) -> Member:
        """Invite ``email`` with ``role``, or invite again an invitee who has not accepted."""
        require(_role(caller), "manage_team")
        if checked_role(role) == "owner":
            _owner_only(caller, "make someone an owner")
        return await self._invite(caller.account_id, email, role, caller.user_id)

    async def invite_for_operator(self, account_id: int, email: str, role: str) -> Member:
        """The operator's invitation (``jumbe users invite``): how an account made from the
        command line, whose owner has no email, gets people who sign in."""
        return await self._invite(account_id, email, role, None)

    async def _invite(
        self, account_id: int, email: str, role: str, inviter_id: int | None
    ) -> Member:
        email, role = checked_email(email), checked_role(role)
        sign = await self.links.signer()

        def invite(conn: Connection) -> Member:
            account_name = _lock_account(conn, account_id)
            found = conn.execute(select(users).where(users.c.email == email)).one_or_none()
            if found is not None and (
                found.account_id != account_id or found.password_hash is not None
            ):
                raise Conflict(f"{email} already signs in to Jumbe")
            if found is None:
                if username_taken(conn, email):
                    raise Conflict(f"{email} already signs in to Jumbe")
                user_id = insert_user(
                    conn, account_id, email, None, role, frozenset(), utcnow(), email=email
                )
            else:
                user_id = found.id
                conn.execute(update(users).where(users.c.id == user_id).values(role=role))
            inviter = _inviter(conn, inviter_id, account_name)
            link = self.mail.link(INVITATION_PATH, sign(user_id, _invitation_state(None)))
            self.mail.queue(
                conn,
                email,
                f"You are invited to {account_name} on Jumbe",
                f"Hello,\n\n{inviter} invites you to join {account_name} on Jumbe as {role}.\n"
                f"Accept within {INVITATION_FOR.days} days through this link, where you"
                f" choose your name and password:\n\n{link}\n\n"
                "If you do not know them, ignore this mail.\n",
            )
            return _member(conn.execute(select(users).where(users.c.id == user_id)).one())

        return await self.db.write(invite)

    async def check_invitation(self, token: str) -> Invitation:
        """What an invitation link is for, while it is still good (nothing changes)."""
        claims = await self.links.read(token)

        def check(conn: Connection) -> Invitation:
            row = conn.execute(
                select(users.c.email, users.c.role, users.c.password_hash, accounts.c.name)
                .join(accounts, accounts.c.id == users.c.account_id)
                .where(users.c.id == claims.subject)
            ).one_or_none()
            claims.check(_invitation_state(row.password_hash) if row else None)
            assert row is not None
            return Invitation(str(row.email), str(row.name), str(row.role), claims.expires_at)

        return await self.db.read(check)

    async def accept_invitation(
        self, token: str, *, name: str, password: str, phone: str | None = None
    ) -> str:
        """The invitee's name and password; the address, now verified."""
        invitation = await self.check_invitation(token)
        claims = await self.links.read(token)
        name = checked_name(name)
        phone = checked_phone(phone) if phone else None
        await check_password(password, (invitation.email, name, invitation.account_name))
        password_hash = await self.passwords.hash(password)

        def accept(conn: Connection) -> str:
            row = conn.execute(
                select(users.c.password_hash).where(users.c.id == claims.subject).with_for_update()
            ).one_or_none()
            claims.check(_invitation_state(row.password_hash) if row else None)
            conn.execute(
                update(users).where(users.c.id == claims.subject).values(name=name, phone=phone)
            )
            set_password(conn, claims.subject, password_hash, verified=True)
            return invitation.email

        return await self.db.write(accept)

    async def change_role(self, caller: Caller, member_uuid: str, role: str) -> Member:
        require(_role(caller), "manage_team")
        role = checked_role(role)

        def change(conn: Connection) -> Member:
            _lock_account(conn, caller.account_id)
            target = _target(conn, caller, member_uuid)
            if "owner" in (role, target.role):
                _owner_only(caller, "make someone an owner or change an owner's role")
            if target.role == "owner" and role != "owner":
                _keep_an_owner(conn, caller.account_id, target.id)
            conn.execute(update(users).where(users.c.id == target.id).values(role=role))
            return _member(conn.execute(select(users).where(users.c.id == target.id)).one())

        return await self.db.write(change)

    async def remove_member(self, caller: Caller, member_uuid: str) -> None:
        """Remove a member (or cancel an invitation); anyone may leave the team themselves."""

        def remove(conn: Connection) -> None:
            _lock_account(conn, caller.account_id)
            target = _target(conn, caller, member_uuid)
            if target.id != caller.user_id:
                require(_role(caller), "manage_team")
                if target.role == "owner":
                    _owner_only(caller, "remove an owner")
            if target.role == "owner":
                _keep_an_owner(conn, caller.account_id, target.id)
            conn.execute(delete(users).where(users.c.id == target.id))

        await self.db.write(remove)


def _role(caller: Caller) -> str:
    if caller.role is None:
        raise Forbidden("Forbidden: the team is managed by members signed in, not by API tokens")
    return caller.role


def _owner_only(caller: Caller, what: str) -> None:
    if caller.role != "owner":
        raise Forbidden(f"Forbidden: only an owner may {what}")


def _lock_account(conn: Connection, account_id: int) -> str:
    """Lock the account's row for the team change (PostgreSQL; SQLite writes one at a time)."""
    query = select(accounts.c.name).where(accounts.c.id == account_id).with_for_update()
    return str(conn.execute(query).scalar_one())


def _target(conn: Connection, caller: Caller, member_uuid: str) -> Row[tuple[object, ...]]:
    found = conn.execute(
        select(users).where(
            users.c.uuid == member_uuid,
            users.c.account_id == caller.account_id,
            users.c.email.is_not(None),
        )
    ).one_or_none()
    if found is None:
        raise NotFound("member not found")
    return found


def _keep_an_owner(conn: Connection, account_id: int, leaving: int) -> None:
    """Conflict unless another owner who can sign in remains."""
    others = conn.execute(
        select(func.count()).where(
            users.c.account_id == account_id,
            users.c.role == "owner",
            users.c.password_hash.is_not(None),
            users.c.id != leaving,
        )
    ).scalar_one()
    if not others:
        raise Conflict("an account always keeps one owner: make someone else owner first")


def _inviter(conn: Connection, inviter_id: int | None, account_name: str) -> str:
    row = conn.execute(
        select(users.c.name, users.c.email).where(users.c.id == inviter_id)
    ).one_or_none()
    return str(row.name or row.email) if row else f"The Jumbe operator, for {account_name},"


def _invitation_state(password_hash: object) -> str:
    return f"invitation:{password_hash}"


def _member(r: Row[tuple[object, ...]]) -> Member:
    status = (
        "invited"
        if r.password_hash is None
        else "unverified"
        if r.email_verified_at is None
        else "active"
    )
    return Member(
        uuid=str(r.uuid),
        email=str(r.email),
        name=str(r.name or ""),
        phone=f"+{r.phone}" if r.phone else None,
        role=str(r.role),
        status=status,
        created_at=r.created_at,
    )
