"""SMPP binds: who may bind as an account's system_id, its SMPP password, its SMPP limits.

A bind's ``system_id`` is the account's team code; its password is either
one of the account's API tokens with the ``messages`` scope (as the Mobile
Sasa guide has it) or the account's SMPP password. The second exists because
stock clients (smpplib among them) cut the password to SMPP 3.4's 8 octets,
and tokens are longer: an 8-character password lets every client bind
unchanged.

SMPP passwords are drawn from letters and digits that cannot be misread
(no 0/O, 1/l/I), about 46 bits, and stored as argon2 hashes, not SHA-256 as
tokens are: 46 bits fall to a GPU in hours from a leaked SHA-256, while each
argon2 guess costs ~50 ms and 64 MiB. Binds are rare and a password proven
right is remembered (``passwords``), so the cost is paid about once per
password per process. Online guessing meets the throttle, counted per
``system_id`` as well as per address.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.errors import InvalidRequest, NotFound, Unauthenticated
from jumbe.services.passwords import Passwords
from jumbe.services.throttle import Attempt
from jumbe.services.tokens import TOKEN_PREFIX, TokenService
from jumbe.store.database import Database
from jumbe.store.schema import accounts, smpp_sessions

SMPP_PASSWORD_LENGTH = 8  # SMPP 3.4's password field: 9 octets with the terminating NUL
SMPP_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def new_smpp_password() -> str:
    return "".join(secrets.choice(SMPP_PASSWORD_ALPHABET) for _ in range(SMPP_PASSWORD_LENGTH))


class SmppCredentialService:
    def __init__(self, db: Database, tokens: TokenService, passwords: Passwords) -> None:
        self.db = db
        self.tokens = tokens
        self.passwords = passwords
        self.throttle = passwords.throttle

    async def authenticate_bind(self, system_id: str, password: str, *, client: str) -> int:
        """The account a bind is for: its team code as system_id, and as password an API
        token with the messages scope or the account's SMPP password. The client only
        learns that the bind failed (ESME_RBINDFAIL); the error says why, for the log."""
        team_code = system_id.strip().upper()
        attempt = Attempt.of(client, "smpp", team_code)
        query = select(accounts.c.id, accounts.c.status, accounts.c.smpp_password_hash).where(
            accounts.c.team_code == team_code
        )
        account = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if account is None:
            raise self.throttle.failed(attempt, Unauthenticated("no account has this system_id"))
        if password.startswith(TOKEN_PREFIX) and len(password) > SMPP_PASSWORD_LENGTH:
            reason = await self._token_refusal(password, account.id)
        else:
            reason = await self._password_refusal(password, account.smpp_password_hash, attempt)
        if reason is None and account.status != "active":
            reason = "account is suspended"
        if reason is not None:
            raise self.throttle.failed(attempt, Unauthenticated(reason))
        return int(account.id)

    async def _token_refusal(self, raw: str, account_id: int) -> str | None:
        try:
            caller = await self.tokens.lookup(raw)
        except Unauthenticated as exc:
            return exc.message
        if caller.account_id != account_id:
            return "the token is not one of this system_id's account"
        if not caller.has_scope("messages"):
            return "the token lacks the messages scope"
        return None

    async def _password_refusal(
        self, password: str, password_hash: str | None, attempt: Attempt
    ) -> str | None:
        if password_hash is None:
            return "the account has no SMPP password (jumbe accounts smpp-password ACCOUNT)"
        if await self.passwords.matches(password_hash, password, attempt):
            return None
        if password.startswith(TOKEN_PREFIX):
            return "wrong SMPP password (an API token cut to 8 characters by the client?)"
        return "wrong SMPP password"

    async def rotate_password(self, account_id: int) -> str:
        """A new SMPP password for the account, replacing any other; shown only here.

        Sessions already bound stay bound; the old password binds no more.
        """
        password = new_smpp_password()
        password_hash = await self.passwords.hash(password)
        changed = await self.db.write(
            lambda conn: (
                conn.execute(
                    update(accounts)
                    .where(accounts.c.id == account_id)
                    .values(smpp_password_hash=password_hash)
                ).rowcount
            )
        )
        if not changed:
            raise NotFound(f"no account {account_id}")
        return password

    async def smpp_limits(self, account_id: int) -> tuple[int | None, float | None]:
        """(max sessions, submits per second per session) set for the account; None: default."""
        query = select(accounts.c.smpp_max_sessions, accounts.c.smpp_tps).where(
            accounts.c.id == account_id
        )
        row = await self.db.read(lambda conn: conn.execute(query).one())
        return row.smpp_max_sessions, row.smpp_tps

    async def open_session(self, account_id: int, *, node_id: str, limit: int) -> int | None:
        """Count a bound session against the account's limit on every node of a cluster;
        its id, or None when the account has ``limit`` sessions already.

        The account's row is locked while its sessions are counted, so two nodes
        binding the last free session at once give it to one. A dead node's
        sessions are dropped when the live nodes take over its leases.
        """

        def count_and_open(conn: Connection) -> int | None:
            conn.execute(select(accounts.c.id).where(accounts.c.id == account_id).with_for_update())
            bound = conn.execute(
                select(func.count())
                .select_from(smpp_sessions)
                .where(smpp_sessions.c.account_id == account_id)
            ).scalar_one()
            if bound >= limit:
                return None
            opened: int = conn.execute(
                insert(smpp_sessions)
                .values(account_id=account_id, node_id=node_id, bound_at=utcnow())
                .returning(smpp_sessions.c.id)
            ).scalar_one()
            return opened

        return await self.db.write(count_and_open)

    async def close_session(self, session_id: int) -> None:
        await self.db.write(
            lambda conn: conn.execute(delete(smpp_sessions).where(smpp_sessions.c.id == session_id))
        )

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
