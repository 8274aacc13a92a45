"""Users of an account, their passwords and their permissions on the account's SIMs.

Users carry permissions on the account's SIMs, one per kind of operation, so
that an integration acting "as" a user (the ``username`` of the Safaricom SIM
portal payloads, the M2M XML API's credentials) can do only what that user may.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jumbe.core.clock import utcnow
from jumbe.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotPermitted,
    Unauthenticated,
)
from jumbe.services.passwords import Passwords, new_password
from jumbe.services.throttle import Attempt
from jumbe.store.database import Database
from jumbe.store.schema import accounts, users

ROLES = ("owner", "admin", "member", "viewer")
# What a user may do on the account's SIMs; the owner is created with all of them.
PERMISSIONS = ("view", "activate", "suspend_resume", "rename", "message")


@dataclass(frozen=True, slots=True)
class UserView:
    username: str
    role: str
    permissions: tuple[str, ...]
    created_at: datetime


class UserService:
    def __init__(self, db: Database, passwords: Passwords) -> None:
        self.db = db
        self.passwords = passwords
        self.throttle = passwords.throttle

    async def verify_password(self, username: str, password: str, *, client: str) -> int:
        """The user id for a username and password; Unauthenticated otherwise."""
        attempt = Attempt.of(client, "user", username)
        query = select(users.c.id, users.c.password_hash).where(users.c.username == username)
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if (
            row is None
            or row.password_hash is None
            or not await self.passwords.matches(row.password_hash, password, attempt)
        ):
            raise self.throttle.failed(attempt, Unauthenticated("wrong username or password"))
        return int(row.id)

    async def authenticate_user(
        self, username: str, password: str, *, client: str, permission: str
    ) -> int:
        """The account of an active user who holds ``permission``, by username and password.

        For APIs that carry a user's credentials in every request (the M2M XML
        API). The user, its permissions and its account's status are read on
        every call, so a changed password, a revoked permission or a suspended
        account take effect at once on every node; only argon2's verdict on a
        password already proven right is remembered (see ``Passwords.matches``).
        Missing credentials are not a guess and do not count toward the lockout;
        right ones pass whatever the throttle counts (see ``throttle``).
        """
        if not username or not password:
            raise Unauthenticated("username and password are required")
        attempt = Attempt.of(client, "user", username)
        query = (
            select(
                users.c.account_id, users.c.password_hash, users.c.permissions, accounts.c.status
            )
            .join(accounts, accounts.c.id == users.c.account_id)
            .where(users.c.username == username)
        )
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if (
            row is None
            or row.status != "active"
            or row.password_hash is None
            or not await self.passwords.matches(row.password_hash, password, attempt)
        ):
            raise self.throttle.failed(attempt, Unauthenticated("wrong username or password"))
        if permission not in _split(row.permissions):
            raise NotPermitted(f"user {username!r} does not hold the {permission!r} permission")
        return int(row.account_id)

    async def add_user(
        self,
        account_id: int,
        username: str,
        *,
        role: str = "member",
        permissions: list[str] | None = None,
    ) -> str:
        """A new user of the account with the given permissions; returns the password, once."""
        username = username.strip()
        if not username or len(username) > 254:
            raise InvalidRequest("username must be 1 to 254 characters")
        if role not in ROLES:
            raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
        granted = _permission_set(permissions or [])
        password = new_password()
        password_hash = await self.passwords.hash(password)

        def add(conn: Connection) -> None:
            if username_taken(conn, username):
                raise Conflict(f"user {username!r} already exists")
            insert_user(conn, account_id, username, password_hash, role, granted, utcnow())

        try:
            await self.db.write(add)
        except IntegrityError as exc:  # the same name added at the same moment
            raise Conflict(f"user {username!r} already exists") from exc
        return password

    async def grant(self, username: str, permissions: list[str]) -> tuple[str, ...]:
        """Add permissions to a user; the user's permissions afterwards."""
        return await self._change_permissions(username, _permission_set(permissions), add=True)

    async def revoke(self, username: str, permissions: list[str]) -> tuple[str, ...]:
        return await self._change_permissions(username, _permission_set(permissions), add=False)

    async def _change_permissions(
        self, username: str, change: frozenset[str], *, add: bool
    ) -> tuple[str, ...]:
        def change_held(conn: Connection) -> frozenset[str]:
            current = conn.execute(
                select(users.c.permissions).where(users.c.username == username)
            ).scalar_one_or_none()
            if current is None:
                raise NotFound(f"no user {username!r}")
            held = _split(current)
            now_held = held | change if add else held - change
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(permissions=_joined(now_held))
            )
            return now_held

        now_held = await self.db.write(change_held)
        return tuple(p for p in PERMISSIONS if p in now_held)

    async def list_users(self, account_id: int) -> list[UserView]:
        query = select(users).where(users.c.account_id == account_id).order_by(users.c.id)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [
            UserView(r.username, r.role, tuple(sorted(_split(r.permissions))), r.created_at)
            for r in rows
        ]


def require_permission(conn: Connection, account_id: int, username: str, permission: str) -> None:
    """NotPermitted unless ``username`` is a user of the account holding ``permission``."""
    held = (
        conn.execute(
            select(users.c.permissions).where(
                users.c.username == username, users.c.account_id == account_id
            )
        )
    ).scalar_one_or_none()
    if held is None or permission not in _split(held):
        raise NotPermitted("User not permitted to carry out operation")


def username_taken(conn: Connection, username: str) -> bool:
    found = conn.execute(select(users.c.id).where(users.c.username == username)).first()
    return found is not None


def insert_user(
    conn: Connection,
    account_id: int,
    username: str,
    password_hash: str | None,
    role: str,
    permissions: frozenset[str],
    now: datetime,
    *,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
) -> int:
    """A user row in the caller's transaction; its id.

    ``email`` makes the user a person who signs in (registered or invited); it
    is the sign-in name and also the username. Without a password the user is
    an invitee.
    """
    return int(
        conn.execute(
            insert(users)
            .values(
                account_id=account_id,
                uuid=str(uuid.uuid4()),
                username=username,
                password_hash=password_hash,
                role=role,
                permissions=_joined(permissions),
                created_at=now,
                email=email,
                name=name,
                phone=phone,
            )
            .returning(users.c.id)
        ).scalar_one()
    )


def _permission_set(names: list[str]) -> frozenset[str]:
    wanted = frozenset(n.strip().lower() for n in names if n.strip())
    unknown = sorted(wanted - set(PERMISSIONS))
    if unknown:
        raise InvalidRequest(
            f"unknown permission(s) {', '.join(unknown)}: use {', '.join(PERMISSIONS)}"
        )
    return wanted


def _split(stored: str) -> frozenset[str]:
    return frozenset(p for p in stored.split(",") if p)


def _joined(held: frozenset[str]) -> str:
    return ",".join(p for p in PERMISSIONS if p in held)
