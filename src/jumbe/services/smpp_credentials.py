"""SMPP binds: who may bind as an account's system_id, and the account's SMPP limits."""

from __future__ import annotations

from sqlalchemy import select, update

from jumbe.services.errors import InvalidRequest, Unauthenticated
from jumbe.services.throttle import Attempt, AuthThrottle
from jumbe.services.tokens import Caller, TokenService
from jumbe.store.database import Database
from jumbe.store.schema import accounts


class SmppCredentialService:
    def __init__(self, db: Database, tokens: TokenService, throttle: AuthThrottle) -> None:
        self.db = db
        self.tokens = tokens
        self.throttle = throttle

    async def authenticate_bind(self, system_id: str, password: str, *, client: str) -> Caller:
        """An SMPP bind: the team code as system_id, an API token with the messages scope
        as password. The client only learns that the bind failed (ESME_RBINDFAIL);
        the error's message says why, for the server's log."""
        attempt = Attempt.of(client, "smpp", system_id.strip().upper())
        try:
            caller = await self.tokens.lookup(password)
        except Unauthenticated as exc:
            raise self.throttle.failed(attempt, Unauthenticated(exc.message)) from None
        query = select(accounts.c.id).where(accounts.c.team_code == system_id.strip().upper())
        team = await self.db.read(lambda conn: conn.execute(query).scalar_one_or_none())
        if team != caller.account_id:
            refused = Unauthenticated("the token is not one of this system_id's account")
            raise self.throttle.failed(attempt, refused)
        if not caller.has_scope("messages"):
            refused = Unauthenticated("the token lacks the messages scope")
            raise self.throttle.failed(attempt, refused)
        return caller

    async def smpp_limits(self, account_id: int) -> tuple[int | None, float | None]:
        """(max sessions, submits per second per session) set for the account; None: default."""
        query = select(accounts.c.smpp_max_sessions, accounts.c.smpp_tps).where(
            accounts.c.id == account_id
        )
        row = await self.db.read(lambda conn: conn.execute(query).one())
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
