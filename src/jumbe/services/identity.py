"""Accounts, users and API tokens: who is calling, and on whose behalf.

API tokens are long random strings, so a fast SHA-256 is the right hash for
them (lookup by hash, no salt needed); user passwords are short and human, so
they get argon2. Raw secrets exist only in the return value that shows them
once.

Users carry permissions on the account's SIMs, one per kind of operation, so
that an integration acting "as" a user (the ``username`` of the Safaricom SIM
portal payloads) can do only what that user may.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jumbe.services.billing import open_wallets
from jumbe.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotPermitted,
    Unauthenticated,
    UnknownAccount,
)
from jumbe.services.limits import AttemptLimiter
from jumbe.services.oauth import insert_client
from jumbe.store.database import Database
from jumbe.store.schema import (
    account_numbers,
    accounts,
    api_tokens,
    sender_ids,
    users,
    utcnow,
)

SCOPES = (
    "messages",
    "contacts",
    "groups",
    "campaigns",
    "surveys",
    "ussd",
    "reports",
    "api_tokens",
    "sims",
)
ROLES = ("owner", "admin", "member", "viewer")
# What a user may do on the account's SIMs; the owner is created with all of them.
PERMISSIONS = ("view", "activate", "suspend_resume", "rename", "message")
TOKEN_PREFIX = "jmb_"
FIRST_SHORT_CODE = 20000
TOKEN_CACHE_SECONDS = 1.0
TOKEN_CACHE_SIZE = 10_000
VERIFIED_CACHE_SIZE = 10_000
VPN_GROUP = re.compile(r"1-\d{11,12}_VPN")
_passwords = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated API client: an account, through one token, with its scopes."""

    account_id: int
    token_id: int
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class TokenView:
    uuid: str
    name: str
    scopes: tuple[str, ...]
    display_prefix: str
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewAccount:
    """Everything a new account's owner needs once; the secrets are not kept in clear."""

    account_id: int
    name: str
    team_code: str
    api_token: str
    username: str
    password: str
    webhook_secret: str
    short_code: str
    sender_ids: tuple[str, ...]
    vpn_group: str
    daraja_consumer_key: str
    daraja_consumer_secret: str
    m2m_username: str
    m2m_password: str

    def as_json(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "team_code": self.team_code,
            "api_token": self.api_token,
            "username": self.username,
            "password": self.password,
            "webhook_secret": self.webhook_secret,
            "short_code": self.short_code,
            "sender_ids": list(self.sender_ids),
            "vpn_group": self.vpn_group,
            "daraja_consumer_key": self.daraja_consumer_key,
            "daraja_consumer_secret": self.daraja_consumer_secret,
            "m2m_username": self.m2m_username,
            "m2m_password": self.m2m_password,
        }


@dataclass(frozen=True, slots=True)
class UserView:
    username: str
    role: str
    permissions: tuple[str, ...]
    created_at: datetime


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


class IdentityService:
    def __init__(self, db: Database, *, auth_failures_per_minute: int = 30) -> None:
        self.db = db
        self.limiter = AttemptLimiter(auth_failures_per_minute)
        # Tokens found valid in the last second: checking one was a third of the cost
        # of a REST send. digest -> (caller, expires_at, when checked)
        self._valid_tokens: dict[str, tuple[Caller, datetime | None, float]] = {}
        # keyed digests of (password hash, password) pairs argon2 accepted
        self._verified: set[bytes] = set()
        self._verified_key = secrets.token_bytes(32)

    # accounts --------------------------------------------------------------

    async def create_account(
        self,
        name: str,
        *,
        sender: str | None = None,
        owner_username: str | None = None,
        vpn_group: str | None = None,
    ) -> NewAccount:
        """A new account with everything its owner needs to call every face.

        ``vpn_group`` keeps an account number the customer already has (moving
        from Safaricom's own portal); by default one is drawn.
        """
        name = name.strip()
        if vpn_group is not None and not VPN_GROUP.fullmatch(vpn_group):
            raise InvalidRequest("an account number looks like 1-225560081663_VPN")
        if not name or len(name) > 120:
            raise InvalidRequest("account name must be 1 to 120 characters")
        if sender is not None and not re.fullmatch(r"[A-Za-z0-9 .\-]{1,11}", sender):
            raise InvalidRequest(
                "an alphanumeric sender ID is 1 to 11 letters, digits, spaces, dots or dashes"
            )
        password = secrets.token_urlsafe(12)
        m2m_password = secrets.token_urlsafe(18)
        password_hash = await asyncio.to_thread(_passwords.hash, password)
        m2m_hash = await asyncio.to_thread(_passwords.hash, m2m_password)
        for _attempt in range(20):
            try:
                return await self._insert_account(
                    name,
                    sender,
                    owner_username,
                    vpn_group,
                    password,
                    password_hash,
                    m2m_password,
                    m2m_hash,
                )
            except IntegrityError as exc:
                if owner_username and "username" in str(exc.orig):
                    raise Conflict(f"user {owner_username!r} already exists") from exc
                if vpn_group and "vpn_group" in str(exc.orig):
                    raise Conflict(f"account number {vpn_group} is taken") from exc
                continue  # a team code, short code or account number taken: draw again
        raise Conflict("could not allocate a unique team code; try again")

    async def _insert_account(
        self,
        name: str,
        sender: str | None,
        owner_username: str | None,
        vpn_group: str | None,
        password: str,
        password_hash: str,
        m2m_password: str,
        m2m_hash: str,
    ) -> NewAccount:
        now = utcnow()
        raw_token = new_token()
        webhook_secret = "whsec_" + secrets.token_urlsafe(24)
        vpn_group = vpn_group or new_vpn_group()

        def work(conn: Connection) -> NewAccount:
            team_code = _free_team_code(conn, name)
            account_id = (
                conn.execute(
                    insert(accounts)
                    .values(
                        name=name,
                        team_code=team_code,
                        status="active",
                        webhook_secret=webhook_secret,
                        vpn_group=vpn_group,
                        created_at=now,
                    )
                    .returning(accounts.c.id)
                )
            ).scalar_one()
            open_wallets(conn, account_id, now)
            username = owner_username or f"{team_code.lower()}@jumbe.local"
            _insert_user(
                conn, account_id, username, password_hash, "owner", frozenset(PERMISSIONS), now
            )
            # the M2M XML API's user: it authenticates with a username and password
            # in each document, and may only look at and message the SIMs
            m2m_username = f"m2m-{team_code.lower()}"
            _insert_user(
                conn,
                account_id,
                m2m_username,
                m2m_hash,
                "member",
                frozenset({"view", "message"}),
                now,
            )
            _insert_token(conn, account_id, "default", SCOPES, None, raw_token, now)
            daraja = insert_client(conn, account_id, now)
            short_code = _next_short_code(conn)
            conn.execute(
                insert(account_numbers).values(
                    number=short_code, account_id=account_id, kind="short_code", created_at=now
                )
            )
            senders = [(short_code, "short_code", sender is None)]
            if sender is not None:
                senders.append((sender, "alphanumeric", True))
            for sender_name, kind, is_default in senders:
                conn.execute(
                    insert(sender_ids).values(
                        uuid=str(uuid.uuid4()),
                        account_id=account_id,
                        name=sender_name,
                        kind=kind,
                        status="approved",
                        is_default=is_default,
                        created_at=now,
                    )
                )
            return NewAccount(
                account_id=account_id,
                name=name,
                team_code=team_code,
                api_token=raw_token,
                username=username,
                password=password,
                webhook_secret=webhook_secret,
                short_code=short_code,
                sender_ids=tuple(s[0] for s in senders),
                vpn_group=vpn_group,
                daraja_consumer_key=daraja.key,
                daraja_consumer_secret=daraja.secret,
                m2m_username=m2m_username,
                m2m_password=m2m_password,
            )

        return await self.db.write(work)

    async def find_account(self, ref: str) -> int:
        """An account by id, team code, account number, or name when unique (CLI use)."""
        if VPN_GROUP.fullmatch(ref):
            return await self.account_by_vpn_group(ref)
        if ref.isdigit():
            condition = accounts.c.id == int(ref)
        else:
            condition = (accounts.c.team_code == ref.upper()) | (accounts.c.name == ref)
        query = select(accounts.c.id, accounts.c.team_code).where(condition)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        exact = [r.id for r in rows if r.team_code == ref.upper()]
        if exact:
            return exact[0]
        if len(rows) > 1:
            raise Conflict(f"{len(rows)} accounts are named {ref!r}; use the team code")
        if not rows:
            raise NotFound(f"no account {ref!r}")
        return int(rows[0].id)

    async def account_by_team_code(self, team_code: str) -> int | None:
        query = select(accounts.c.id).where(accounts.c.team_code == team_code)
        return await self.db.read(lambda conn: conn.execute(query).scalar_one_or_none())

    async def account_by_vpn_group(self, vpn_group: str) -> int:
        return await self.db.read(lambda conn: account_by_vpn_group(conn, vpn_group))

    async def vpn_group(self, account_id: int) -> str:
        query = select(accounts.c.vpn_group).where(accounts.c.id == account_id)
        return await self.db.read(lambda conn: conn.execute(query).scalar_one())

    async def webhook_secret(self, account_id: int) -> str:
        query = select(accounts.c.webhook_secret).where(accounts.c.id == account_id)
        return await self.db.read(lambda conn: conn.execute(query).scalar_one())

    # tokens ------------------------------------------------------------------

    async def authenticate_token(self, raw: str | None, *, client: str) -> Caller:
        """The caller behind a raw token; Unauthenticated for anything not currently valid.

        Only presented-and-wrong credentials count toward the lockout: a request
        with none at all is not a guess.
        """
        if not raw:
            raise Unauthenticated("Missing API token: send Authorization: Bearer <token>")
        self.limiter.check(client)
        now = utcnow()
        digest = hash_token(raw)
        cached = self._valid_tokens.get(digest)
        if cached is not None:
            caller, expires_at, checked = cached
            if time.monotonic() - checked < TOKEN_CACHE_SECONDS and (
                expires_at is None or expires_at > now
            ):
                return caller
            del self._valid_tokens[digest]
        query = (
            select(
                api_tokens.c.id,
                api_tokens.c.account_id,
                api_tokens.c.scopes,
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
                accounts.c.status,
            )
            .join(accounts, accounts.c.id == api_tokens.c.account_id)
            .where(api_tokens.c.token_hash == digest)
        )
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        reason = None
        if row is None:
            reason = "Invalid API token"
        elif row.revoked_at is not None:
            reason = "API token has been revoked"
        elif row.expires_at is not None and row.expires_at <= now:
            reason = "API token has expired"
        elif row.status != "active":
            reason = "account is suspended"
        if reason is not None or row is None:
            self.limiter.failed(client)
            raise Unauthenticated(reason or "Invalid API token")
        caller = Caller(
            account_id=row.account_id,
            token_id=row.id,
            scopes=frozenset(row.scopes.split(",")),
        )
        if len(self._valid_tokens) > TOKEN_CACHE_SIZE:
            self._valid_tokens.clear()
        self._valid_tokens[digest] = (caller, row.expires_at, time.monotonic())
        return caller

    async def create_token(
        self,
        account_id: int,
        name: str,
        scopes: list[str],
        expires_at: datetime | None = None,
    ) -> tuple[str, TokenView]:
        name = name.strip()
        if not name or len(name) > 120:
            raise InvalidRequest("token name must be 1 to 120 characters")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise InvalidRequest(
                f"scopes must be a non-empty list of {', '.join(SCOPES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise InvalidRequest("expires_at must be in the future")
        raw = new_token()
        ordered = tuple(s for s in SCOPES if s in scopes)
        token_uuid = await self.db.write(
            lambda conn: _insert_token(conn, account_id, name, ordered, expires_at, raw, now)
        )
        return raw, TokenView(
            uuid=token_uuid,
            name=name,
            scopes=ordered,
            display_prefix=raw[:10],
            expires_at=expires_at,
            revoked_at=None,
            created_at=now,
        )

    async def list_tokens(self, account_id: int) -> list[TokenView]:
        query = (
            select(api_tokens)
            .where(api_tokens.c.account_id == account_id)
            .order_by(api_tokens.c.id.desc())
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [
            TokenView(
                uuid=r.uuid,
                name=r.name,
                scopes=tuple(r.scopes.split(",")),
                display_prefix=r.display_prefix,
                expires_at=r.expires_at,
                revoked_at=r.revoked_at,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def revoke_token(self, account_id: int, token_uuid: str) -> None:
        revoked = await self.db.write(
            lambda conn: conn.execute(
                update(api_tokens)
                .where(api_tokens.c.account_id == account_id, api_tokens.c.uuid == token_uuid)
                .values(revoked_at=func.coalesce(api_tokens.c.revoked_at, utcnow()))
                .returning(api_tokens.c.id)
            ).scalar_one_or_none()
        )
        if revoked is None:
            raise NotFound("token not found")
        # effective at once on this node; other nodes drop it within TOKEN_CACHE_SECONDS
        self._valid_tokens = {
            digest: entry
            for digest, entry in self._valid_tokens.items()
            if entry[0].token_id != revoked
        }

    async def authenticate_bind(self, system_id: str, password: str, *, client: str) -> Caller:
        """An SMPP bind: the team code as system_id, an API token with the messages scope
        as password. Any mismatch is the same Unauthenticated, so a bind failure never
        tells which half was wrong."""
        self.limiter.check(client)
        try:
            caller = await self.authenticate_token(password, client=client)
        except Unauthenticated:
            raise Unauthenticated("bind refused") from None
        team = await self.account_by_team_code(system_id.strip().upper())
        if team != caller.account_id or not caller.has_scope("messages"):
            self.limiter.failed(client)
            raise Unauthenticated("bind refused")
        return caller

    async def smpp_limits(self, account_id: int) -> tuple[int | None, float | None]:
        """(max sessions, submits per second per session) set for the account; None: default."""
        row = await self.db.read(
            lambda conn: (
                conn.execute(
                    select(accounts.c.smpp_max_sessions, accounts.c.smpp_tps).where(
                        accounts.c.id == account_id
                    )
                )
            ).one()
        )
        return row.smpp_max_sessions, row.smpp_tps

    async def set_smpp_limits(
        self, account_id: int, *, max_sessions: int | None, tps: float | None
    ) -> None:
        if max_sessions is not None and not 1 <= max_sessions <= 1000:
            raise InvalidRequest("sessions must be between 1 and 1000")
        if tps is not None and not 0 < tps <= 100_000:
            raise InvalidRequest("tps must be above 0 and at most 100000")
        await self.db.write(
            lambda conn: conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(smpp_max_sessions=max_sessions, smpp_tps=tps)
            )
        )

    # users -------------------------------------------------------------------

    async def verify_password(self, username: str, password: str, *, client: str) -> int:
        """The user id for a username and password; Unauthenticated otherwise."""
        self.limiter.check(client)
        query = select(users.c.id, users.c.password_hash).where(users.c.username == username)
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None or not await self._password_matches(row.password_hash, password):
            self.limiter.failed(client)
            raise Unauthenticated("wrong username or password")
        return int(row.id)

    async def authenticate_user(
        self, username: str, password: str, *, client: str, permission: str
    ) -> int:
        """The account of an active user who holds ``permission``, by username and password.

        For APIs that carry a user's credentials in every request (the M2M XML
        API). The user, its permissions and its account's status are read on
        every call, so a changed password, a revoked permission or a suspended
        account take effect at once on every node; only argon2's verdict on a
        password already proven right is remembered (see ``_password_matches``).
        Missing credentials are not a guess and do not count toward the lockout.
        """
        if not username or not password:
            raise Unauthenticated("username and password are required")
        self.limiter.check(client)
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
            or not await self._password_matches(row.password_hash, password)
        ):
            self.limiter.failed(client)
            raise Unauthenticated("wrong username or password")
        if permission not in _split(row.permissions):
            raise NotPermitted(f"user {username!r} does not hold the {permission!r} permission")
        return int(row.account_id)

    async def _password_matches(self, password_hash: str, password: str) -> bool:
        """argon2's verdict, remembered for pairs it accepted.

        A verification costs ~50 ms of CPU by design, and an M2M integration sends
        its password with every message. The verdict for one (stored hash,
        password) pair never changes, so remembering the accepted pairs cannot
        go stale: a new password is a new hash. Pairs are kept as keyed digests
        (a per-process random key), never as passwords.
        """
        digest = hmac.new(
            self._verified_key, f"{password_hash}\0{password}".encode(), hashlib.sha256
        ).digest()
        if digest in self._verified:
            return True
        try:
            ok = await asyncio.to_thread(_passwords.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if ok:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified.add(digest)
        return ok

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
        password = secrets.token_urlsafe(12)
        password_hash = await asyncio.to_thread(_passwords.hash, password)
        try:
            await self.db.write(
                lambda conn: _insert_user(
                    conn, account_id, username, password_hash, role, granted, utcnow()
                )
            )
        except IntegrityError as exc:
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
        def work(conn: Connection) -> frozenset[str]:
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

        now_held = await self.db.write(work)
        return tuple(p for p in PERMISSIONS if p in now_held)

    async def list_users(self, account_id: int) -> list[UserView]:
        query = select(users).where(users.c.account_id == account_id).order_by(users.c.id)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [
            UserView(r.username, r.role, tuple(sorted(_split(r.permissions))), r.created_at)
            for r in rows
        ]


def account_by_vpn_group(conn: Connection, vpn_group: str) -> int:
    """The account with this account number; UnknownAccount if there is none."""
    found = (
        conn.execute(select(accounts.c.id).where(accounts.c.vpn_group == vpn_group))
    ).scalar_one_or_none()
    if found is None:
        raise UnknownAccount(f"no account {vpn_group!r}")
    return int(found)


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


def new_vpn_group() -> str:
    """An account number in Safaricom's form: 1-, twelve digits, _VPN."""
    return f"1-{10**11 + secrets.randbelow(9 * 10**11)}_VPN"


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


def _insert_token(
    conn: Connection,
    account_id: int,
    name: str,
    scopes: tuple[str, ...],
    expires_at: datetime | None,
    raw: str,
    now: datetime,
) -> str:
    token_uuid = str(uuid.uuid4())
    conn.execute(
        insert(api_tokens).values(
            uuid=token_uuid,
            account_id=account_id,
            name=name,
            token_hash=hash_token(raw),
            display_prefix=raw[:10],
            scopes=",".join(scopes),
            expires_at=expires_at,
            created_at=now,
        )
    )
    return token_uuid


def _free_team_code(conn: Connection, name: str) -> str:
    stem = re.sub(r"[^A-Z0-9]", "", name.upper())[:6] or "TEAM"
    for _ in range(50):
        code = f"{stem}{secrets.randbelow(10_000):04d}"
        taken = conn.execute(select(accounts.c.id).where(accounts.c.team_code == code))
        if taken.first() is None:
            return code
    raise Conflict("could not allocate a unique team code")


def _insert_user(
    conn: Connection,
    account_id: int,
    username: str,
    password_hash: str,
    role: str,
    permissions: frozenset[str],
    now: datetime,
) -> None:
    conn.execute(
        insert(users).values(
            account_id=account_id,
            username=username,
            password_hash=password_hash,
            role=role,
            permissions=_joined(permissions),
            created_at=now,
        )
    )


def _next_short_code(conn: Connection) -> str:
    highest = (
        conn.execute(
            select(func.max(account_numbers.c.number)).where(account_numbers.c.kind == "short_code")
        )
    ).scalar_one_or_none()
    return str(max(int(highest) + 1, FIRST_SHORT_CODE) if highest else FIRST_SHORT_CODE)
