"""Accounts: provisioning one with every credential its owner needs, and finding one.

Raw secrets exist only in the ``NewAccount`` that shows them once; the
database keeps hashes (argon2 for passwords, SHA-256 for tokens and keys).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, insert, or_, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from jumbe.core.clock import utcnow
from jumbe.core.sender_names import ALPHANUMERIC, ANY_CARRIER, SHORT_CODE, kind_of
from jumbe.services.billing import open_wallets
from jumbe.services.errors import Conflict, InvalidRequest, NotFound, UnknownAccount
from jumbe.services.oauth import KIMISMS, insert_client
from jumbe.services.passwords import Passwords, new_password
from jumbe.services.smpp_credentials import new_smpp_password
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import SCOPES, insert_token, new_token
from jumbe.services.users import PERMISSIONS, insert_user, username_taken
from jumbe.store.database import FIRST_ACCOUNT_LOCK, Database, serialise
from jumbe.store.schema import account_numbers, accounts, sender_ids, users

FIRST_SHORT_CODE = 20000
NAME_KEY_LENGTH = 255
VPN_GROUP = re.compile(r"1-\d{11,12}_VPN")
# A new account draws a team code, a short code and an account number; two
# accounts created at the same moment may draw the same one, and the loser tries again.
DRAWS = 20
T = TypeVar("T")


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
    oauth_client_id: str  # the Kimisms API's client credentials
    oauth_client_secret: str
    m2m_username: str
    m2m_password: str
    smpp_password: str

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
            "oauth_client_id": self.oauth_client_id,
            "oauth_client_secret": self.oauth_client_secret,
            "m2m_username": self.m2m_username,
            "m2m_password": self.m2m_password,
            "smpp_password": self.smpp_password,
        }


class NotFirst(Conflict):
    """An account exists already: a first start's account is not made twice."""


@dataclass(frozen=True, slots=True)
class _Secrets:
    """The new account's secrets, drawn (and hashed, slowly) before its transaction."""

    password: str
    password_hash: str
    m2m_password: str
    m2m_hash: str
    smpp_password: str
    smpp_hash: str


class AccountService:
    def __init__(self, db: Database, passwords: Passwords) -> None:
        self.db = db
        self.passwords = passwords

    async def create_account(
        self,
        name: str,
        *,
        sender: str | None = None,
        owner_username: str | None = None,
        vpn_group: str | None = None,
        first: bool = False,
    ) -> NewAccount:
        """A new account with everything its owner needs to call every face.

        ``first``: only if there is no account at all, else ``NotFirst``: the demo
        account of a first start, made once however many nodes start together.

        ``vpn_group`` keeps an account number the customer already has (moving
        from Safaricom's own portal); by default one is drawn. This is the
        operator's way in (``jumbe accounts create``); a customer who signs up
        gets less (``signup.SignupService.register``).
        """
        name = checked_name(name)
        if vpn_group is not None and not VPN_GROUP.fullmatch(vpn_group):
            raise InvalidRequest("an account number looks like 1-225560081663_VPN")
        sender_kind = ALPHANUMERIC
        if sender is not None:
            try:
                sender_kind = kind_of(sender)
            except ValueError as exc:
                raise InvalidRequest(str(exc)) from None
        password, m2m_password = new_password(), secrets.token_urlsafe(18)
        smpp_password = new_smpp_password()
        hashes = await asyncio.gather(
            *(self.passwords.hash(p) for p in (password, m2m_password, smpp_password))
        )
        drawn = _Secrets(password, hashes[0], m2m_password, hashes[1], smpp_password, hashes[2])
        now = utcnow()
        raw_token = new_token()

        def provision(conn: Connection) -> NewAccount:
            if first:
                serialise(conn, FIRST_ACCOUNT_LOCK)  # the other nodes wait, then see it
                if conn.execute(select(accounts.c.id).limit(1)).first() is not None:
                    raise NotFirst("an account exists already")
            if owner_username and username_taken(conn, owner_username):
                raise Conflict(f"user {owner_username!r} already exists")
            if vpn_group and _vpn_group_taken(conn, vpn_group):
                raise Conflict(f"account number {vpn_group} is taken")
            row = insert_account(
                conn, name, vpn_group=vpn_group, smpp_password_hash=drawn.smpp_hash, now=now
            )
            account_id, team_code = row.id, row.team_code
            username = owner_username or f"{team_code.lower()}@jumbe.local"
            insert_user(
                conn,
                account_id,
                username,
                drawn.password_hash,
                "owner",
                frozenset(PERMISSIONS),
                now,
            )
            # the M2M XML API's user: it authenticates with a username and password
            # in each document, and may only look at and message the SIMs
            m2m_username = f"m2m-{team_code.lower()}"
            insert_user(
                conn,
                account_id,
                m2m_username,
                drawn.m2m_hash,
                "member",
                frozenset({"view", "message"}),
                now,
            )
            insert_token(conn, account_id, "default", SCOPES, None, raw_token, now)
            daraja = insert_client(conn, account_id, now)
            kimisms = insert_client(conn, account_id, now, KIMISMS)
            short_code = _next_short_code(conn)
            conn.execute(
                insert(account_numbers).values(
                    number=short_code, account_id=account_id, kind="short_code", created_at=now
                )
            )
            # the operator's own grants: approved on every carrier, the name the default
            senders = [(short_code, SHORT_CODE)]
            if sender is not None:
                senders.append((sender, sender_kind))
            conn.execute(
                insert(sender_ids),
                [
                    {
                        "uuid": str(uuid.uuid4()),
                        "account_id": account_id,
                        "name": sender_name,
                        "kind": kind,
                        "carrier": ANY_CARRIER,
                        "status": "approved",
                        "created_at": now,
                    }
                    for sender_name, kind in senders
                ],
            )
            conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(default_sender=senders[-1][0])
            )
            return NewAccount(
                account_id=account_id,
                name=name,
                team_code=team_code,
                api_token=raw_token,
                username=username,
                password=drawn.password,
                webhook_secret=row.webhook_secret,
                short_code=short_code,
                sender_ids=tuple(s[0] for s in senders),
                vpn_group=row.vpn_group,
                daraja_consumer_key=daraja.key,
                daraja_consumer_secret=daraja.secret,
                oauth_client_id=kimisms.key,
                oauth_client_secret=kimisms.secret,
                m2m_username=m2m_username,
                m2m_password=drawn.m2m_password,
                smpp_password=drawn.smpp_password,
            )

        return await write_new_account(self.db, provision)

    async def create_first_account(self, name: str, *, sender: str) -> NewAccount | None:
        """The demo account of a first start; None when any account exists (another node
        starting at the same moment made it)."""
        if await self.any_exist():
            return None
        try:
            return await self.create_account(name, sender=sender, first=True)
        except NotFirst:
            return None

    async def any_exist(self) -> bool:
        """Whether any account was ever made (a first start makes the demo account)."""
        query = select(accounts.c.id).limit(1)
        return await self.db.read(lambda conn: conn.execute(query).first() is not None)

    async def find_account(self, ref: str) -> int:
        """An account by id, team code, account number, or name (CLI use).

        Names are matched as they are compared (``name_key``). Accounts that
        share a name from before names were unique have no key; they are
        compared here, and a name two accounts share is refused with a hint.
        """
        if VPN_GROUP.fullmatch(ref):
            return await self.account_by_vpn_group(ref)
        if ref.isdigit():
            condition = accounts.c.id == int(ref)
        else:
            condition = (
                (accounts.c.team_code == ref.upper())
                | (accounts.c.name_key == name_key(ref))
                | accounts.c.name_key.is_(None)
            )
        query = select(accounts.c.id, accounts.c.team_code, accounts.c.name).where(condition)
        found = await self.db.read(lambda conn: conn.execute(query).all())
        exact = [r.id for r in found if r.team_code == ref.upper()]
        if exact:
            return int(exact[0])
        rows = [r for r in found if ref.isdigit() or name_key(r.name) == name_key(ref)]
        if len(rows) > 1:
            raise Conflict(f"{len(rows)} accounts are named {ref!r}; use the team code")
        if not rows:
            raise NotFound(f"no account {ref!r}")
        return int(rows[0].id)

    async def search(
        self, staff: StaffCaller, *, search: str = "", page: int = 1, page_size: int = 20
    ) -> tuple[list[AccountSummary], int]:
        """Every account (for the operator's staff only), newest first, and how many match.

        ``search`` matches part of the name (as names are compared), the team
        code, the account number or a member's email.
        """
        condition: ColumnElement[bool] = true()
        if search.strip():
            pattern = f"%{_escaped(search.strip())}%"
            condition = or_(
                accounts.c.name_key.like(f"%{_escaped(name_key(search))}%", escape="\\"),
                accounts.c.team_code.like(pattern.upper(), escape="\\"),
                accounts.c.vpn_group.like(pattern, escape="\\"),
                accounts.c.id.in_(
                    select(users.c.account_id).where(
                        users.c.email.like(pattern.lower(), escape="\\")
                    )
                ),
            )
        listed = (
            select(accounts)
            .where(condition)
            .order_by(accounts.c.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
        counted = select(func.count()).select_from(accounts).where(condition)

        def page_with_owners(conn: Connection) -> tuple[list[AccountSummary], int]:
            rows = conn.execute(listed).all()
            owners: dict[int, list[str]] = {r.id: [] for r in rows}
            for account_id, email in conn.execute(
                select(users.c.account_id, users.c.email)
                .where(
                    users.c.account_id.in_(list(owners)),
                    users.c.role == "owner",
                    users.c.email.is_not(None),
                )
                .order_by(users.c.id)
            ):
                owners[account_id].append(email)
            found = [
                AccountSummary(
                    id=r.id,
                    name=r.name,
                    team_code=r.team_code,
                    vpn_group=r.vpn_group,
                    status=r.status,
                    owners=tuple(owners[r.id]),
                    created_at=r.created_at,
                )
                for r in rows
            ]
            return found, int(conn.execute(counted).scalar_one())

        return await self.db.read(page_with_owners)

    async def team_code(self, account_id: int) -> str:
        """The account's team code: its SMPP system_id."""
        query = select(accounts.c.team_code).where(accounts.c.id == account_id)
        found: str = await self.db.read(lambda conn: conn.execute(query).scalar_one())
        return found

    async def account_by_vpn_group(self, vpn_group: str) -> int:
        return await self.db.read(lambda conn: account_by_vpn_group(conn, vpn_group))


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as the operator's staff see it in a list."""

    id: int
    name: str
    team_code: str
    vpn_group: str
    status: str
    owners: tuple[str, ...]  # the owners' emails (people who sign in)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccountRow:
    """What ``insert_account`` drew for a new account."""

    id: int
    team_code: str
    vpn_group: str
    webhook_secret: str


def checked_name(name: str) -> str:
    """An account (organisation) name as it is kept: stripped, 1 to 120 characters."""
    name = name.strip()
    if not name or len(name) > 120 or len(name_key(name)) > NAME_KEY_LENGTH:
        raise InvalidRequest("account name must be 1 to 120 characters")
    return name


def insert_account(
    conn: Connection,
    name: str,
    *,
    vpn_group: str | None = None,
    smpp_password_hash: str | None = None,
    now: datetime,
) -> AccountRow:
    """An account row and its wallets, in the caller's transaction (``write_new_account``).

    Draws the team code, the account number (unless given) and the webhook
    secret; Conflict when the name is taken.
    """
    key = name_key(name)
    if _name_taken(conn, key):
        raise Conflict(
            f"an account named {name!r} already exists (names are compared"
            " without regard to case or spacing); choose another name"
        )
    drawn = AccountRow(
        id=0,
        team_code=_free_team_code(conn, name),
        vpn_group=vpn_group or new_vpn_group(),
        webhook_secret="whsec_" + secrets.token_urlsafe(24),
    )
    account_id = conn.execute(
        insert(accounts)
        .values(
            name=name,
            name_key=key,
            team_code=drawn.team_code,
            status="active",
            webhook_secret=drawn.webhook_secret,
            vpn_group=drawn.vpn_group,
            smpp_password_hash=smpp_password_hash,
            created_at=now,
        )
        .returning(accounts.c.id)
    ).scalar_one()
    open_wallets(conn, account_id, now)
    return replace(drawn, id=int(account_id))


async def write_new_account(db: Database, provision: Callable[[Connection], T]) -> T:
    """Run a transaction that creates an account, drawing again when a drawn value collides.

    What the caller chose (names, usernames, account numbers) is checked
    inside ``provision``, so a refusal names it; a unique index that still
    trips can only be a value drawn at the same moment by another new
    account (team code, short code, account number), and the whole account
    is drawn again.
    """
    for _draw in range(DRAWS):
        try:
            return await db.write(provision)
        except IntegrityError:
            continue
    raise Conflict("could not allocate a unique team code; try again")


def name_key(name: str) -> str:
    """A name as it is compared: "ACME  Ltd" and "acme ltd" are the same account name.

    Unicode-normalised (NFKC, so look-alike compatibility forms fold together),
    spacing collapsed, casefolded (ß and ss compare equal, as they do for people).
    """
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def account_by_vpn_group(conn: Connection, vpn_group: str) -> int:
    """The account with this account number; UnknownAccount if there is none."""
    found = (
        conn.execute(select(accounts.c.id).where(accounts.c.vpn_group == vpn_group))
    ).scalar_one_or_none()
    if found is None:
        raise UnknownAccount(f"no account {vpn_group!r}")
    return int(found)


def new_vpn_group() -> str:
    """An account number in Safaricom's form: 1-, twelve digits, _VPN."""
    return f"1-{10**11 + secrets.randbelow(9 * 10**11)}_VPN"


def _escaped(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_taken(conn: Connection, key: str) -> bool:
    found = conn.execute(select(accounts.c.id).where(accounts.c.name_key == key))
    return found.first() is not None


def _vpn_group_taken(conn: Connection, vpn_group: str) -> bool:
    found = conn.execute(select(accounts.c.id).where(accounts.c.vpn_group == vpn_group))
    return found.first() is not None


def _free_team_code(conn: Connection, name: str) -> str:
    stem = re.sub(r"[^A-Z0-9]", "", name.upper())[:6] or "TEAM"
    for _ in range(50):
        code = f"{stem}{secrets.randbelow(10_000):04d}"
        taken = conn.execute(select(accounts.c.id).where(accounts.c.team_code == code))
        if taken.first() is None:
            return code
    raise Conflict("could not allocate a unique team code")


def _next_short_code(conn: Connection) -> str:
    highest = (
        conn.execute(
            select(func.max(account_numbers.c.number)).where(account_numbers.c.kind == "short_code")
        )
    ).scalar_one_or_none()
    return str(max(int(highest) + 1, FIRST_SHORT_CODE) if highest else FIRST_SHORT_CODE)
