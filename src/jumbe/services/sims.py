"""IoT SIMs: who may see and change them, and their lifecycle.

Every change of state goes through ``_move``: a conditional UPDATE ("set new
where status in sources(new)", from ``core.sim_lifecycle``) and, in the same
transaction, an event row with the time and the actor. Activation trends are
then a GROUP BY over those events, so they are history, not a snapshot.

Callers that act for a user of the account (the Safaricom SIM portal's
``vpnGroup`` and ``username``) go through ``authorise`` first: the account
number must be the caller's own and the user must hold the permission.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TextIO

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.core.kenya_time import day_number, days, kenyan_day
from jumbe.core.sim_identifiers import InvalidIdentifier, iot_msisdn
from jumbe.core.sim_lifecycle import SimState, can_move
from jumbe.services.accounts import account_by_vpn_group
from jumbe.services.csv_import import ImportReport, OnProgress, OnRejection
from jumbe.services.errors import Conflict, ForeignAccount, InvalidRequest, UnknownSim
from jumbe.services.products import Product
from jumbe.services.sim_import import import_sims
from jumbe.services.users import require_permission
from jumbe.store.database import Database
from jumbe.store.schema import accounts, products, sim_events, sims

MAX_PAGE = 5000
MAX_TREND_DAYS = 731
# the states whose arrivals the activation trends count, in the order they are reported
TRENDED = (SimState.IDLE, SimState.POOLED, SimState.ACTIVE, SimState.SUSPENDED)
_NEVER_ACTIVE = frozenset({SimState.IDLE, SimState.POOLED})


@dataclass(frozen=True, slots=True)
class SimView:
    id: int
    vpn_group: str
    iccid: str
    imsi: str
    msisdn: str  # national IoT form
    asset_name: str | None
    imei: str | None
    sim_type: str
    status: SimState
    status_at: datetime
    activated_at: datetime | None
    activated_by: str | None
    expiry_year: int | None
    product: Product | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Trends:
    """Per Kenyan day, how many SIMs entered each state."""

    days: list[date]
    entered: dict[SimState, list[int]]


_COLUMNS = (
    sims,
    accounts.c.vpn_group,
    products.c.name.label("product_name"),
    products.c.status.label("product_status"),
)


def _view(row: Any) -> SimView:
    product = (
        Product(row.product_id, row.product_name, row.product_status) if row.product_id else None
    )
    return SimView(
        id=row.id,
        vpn_group=row.vpn_group,
        iccid=row.iccid,
        imsi=row.imsi,
        msisdn=row.msisdn,
        asset_name=row.asset_name,
        imei=row.imei,
        sim_type=row.sim_type,
        status=SimState(row.status),
        status_at=row.status_at,
        activated_at=row.activated_at,
        activated_by=row.activated_by,
        expiry_year=row.expiry_year,
        product=product,
        created_at=row.created_at,
    )


def _select() -> Any:
    return (
        select(*_COLUMNS)
        .join(accounts, accounts.c.id == sims.c.account_id)
        .outerjoin(products, products.c.offering_id == sims.c.product_id)
    )


def _unknown(number: str) -> UnknownSim:
    """The same words whether the number is another account's or nobody's."""
    return UnknownSim(f"no SIM {number} in this account")


def sim_number(raw: str) -> str:
    """The national form of a SIM number given with or without 254; InvalidRequest if neither."""
    try:
        return iot_msisdn(raw)
    except InvalidIdentifier as exc:
        raise InvalidRequest(str(exc)) from exc


class SimService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def authorise(
        self, caller: int, vpn_groups: Sequence[str], username: str | None, permission: str
    ) -> int:
        """The caller's account when every account number given is its own and ``username``
        (a user of it, when the request names one) holds ``permission``.

        UnknownAccount for an account number that does not exist, ForeignAccount
        for one that is another account's, NotPermitted for the user.
        """

        def check_authority(conn: Connection) -> None:
            for vpn_group in vpn_groups:
                if account_by_vpn_group(conn, vpn_group) != caller:
                    raise ForeignAccount("Bad Request – Kindly use your own vpnGroup")
            if username is not None:
                require_permission(conn, caller, username, permission)

        await self.db.read(check_authority)
        return caller

    async def import_csv(
        self,
        account_id: int,
        source: TextIO,
        *,
        actor: str = "import",
        on_progress: OnProgress | None = None,
        on_rejection: OnRejection | None = None,
    ) -> ImportReport:
        """SIMs from an open CSV text file into the account (see ``sim_import``)."""
        return await import_sims(
            self.db,
            account_id,
            source,
            actor=actor,
            on_progress=on_progress,
            on_rejection=on_rejection,
        )

    # reading -----------------------------------------------------------------

    async def page(
        self, account_id: int, *, offset: int = 0, limit: int = 100, status: SimState | None = None
    ) -> list[SimView]:
        """The account's SIMs in the order they arrived, ``limit`` from ``offset``."""
        if offset < 0:
            raise InvalidRequest("the start index must be 0 or more")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"the page size must be between 1 and {MAX_PAGE}")
        # Pick the page's ids first, from the (account_id, position) index, and join only
        # those. Unfiltered, positions are dense, so the page is a seek; filtered by
        # status it is an OFFSET over the index (SQLite would otherwise join every
        # skipped row too).
        page = select(sims.c.id).where(sims.c.account_id == account_id)
        if status is None:
            page = page.where(sims.c.position >= offset)
        else:
            page = page.where(sims.c.status == status.value).offset(offset)
        page = page.order_by(sims.c.position).limit(limit)
        query = _select().where(sims.c.id.in_(page.scalar_subquery())).order_by(sims.c.position)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [_view(r) for r in rows]

    async def count(self, account_id: int, *, status: SimState | None = None) -> int:
        query = select(func.count()).select_from(sims).where(sims.c.account_id == account_id)
        if status is not None:
            query = query.where(sims.c.status == status.value)
        return int(await self.db.read(lambda conn: conn.execute(query).scalar_one()))

    async def find(self, account_id: int, msisdn: str) -> SimView:
        """The account's SIM with this number (either form); UnknownSim if it has none."""
        number = sim_number(msisdn)
        query = _select().where(sims.c.account_id == account_id, sims.c.msisdn == number)
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None:
            raise _unknown(number)
        return _view(row)

    async def trends(self, account_id: int, first: date, last: date) -> Trends:
        """How many SIMs entered each state on each Kenyan day from ``first`` to ``last``."""
        if first > last:
            raise InvalidRequest("the start date is after the stop date")
        span = days(first, last)
        if len(span) > MAX_TREND_DAYS:
            raise InvalidRequest(f"trends cover at most {MAX_TREND_DAYS} days")
        e = sim_events
        query = (
            select(e.c.day, e.c.to_status, func.count(func.distinct(e.c.sim_id)))
            .where(
                e.c.account_id == account_id,
                e.c.day.between(day_number(first), day_number(last)),
                e.c.to_status.in_([s.value for s in TRENDED]),
            )
            .group_by(e.c.day, e.c.to_status)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        counts = {(r[0], r[1]): int(r[2]) for r in rows}
        return Trends(
            days=span,
            entered={s: [counts.get((day_number(d), s.value), 0) for d in span] for s in TRENDED},
        )

    # changing ----------------------------------------------------------------

    async def activate(self, account_id: int, msisdn: str, *, actor: str) -> SimView:
        """First activation, from Idle or Pooled; it records the date and the agent."""
        return await self._change(
            account_id, msisdn, SimState.ACTIVE, actor=actor, only_from=_NEVER_ACTIVE
        )

    async def suspend(
        self, account_id: int, msisdn: str, *, actor: str, product: str | None = None
    ) -> SimView:
        return await self._change(
            account_id, msisdn, SimState.SUSPENDED, actor=actor, product=product
        )

    async def resume(
        self, account_id: int, msisdn: str, *, actor: str, product: str | None = None
    ) -> SimView:
        """Back to Active from Suspended only: resuming is not a first activation."""
        return await self._change(
            account_id,
            msisdn,
            SimState.ACTIVE,
            actor=actor,
            product=product,
            only_from=frozenset({SimState.SUSPENDED}),
        )

    async def move(self, account_id: int, msisdn: str, state: SimState, *, actor: str) -> SimView:
        """Any allowed change (the operator's: pool, unpool, terminate, ...)."""
        return await self._change(account_id, msisdn, state, actor=actor)

    async def rename(self, account_id: int, msisdn: str, asset_name: str) -> SimView:
        name = asset_name.strip()
        if not name or len(name) > 64:
            raise InvalidRequest("an asset name is 1 to 64 characters")
        number = sim_number(msisdn)
        statement = (
            update(sims)
            .where(sims.c.account_id == account_id, sims.c.msisdn == number)
            .values(asset_name=name)
        )
        moved = await self.db.write(lambda conn: conn.execute(statement).rowcount)
        if moved == 0:
            raise _unknown(number)
        return await self.find(account_id, number)

    async def _change(
        self,
        account_id: int,
        msisdn: str,
        new: SimState,
        *,
        actor: str,
        product: str | None = None,
        only_from: frozenset[SimState] | None = None,
    ) -> SimView:
        number = sim_number(msisdn)

        def move_if_allowed(conn: Connection) -> None:
            row = conn.execute(
                select(sims.c.id, sims.c.status, sims.c.product_id).where(
                    sims.c.account_id == account_id, sims.c.msisdn == number
                )
            ).one_or_none()
            if row is None:
                raise _unknown(number)
            if product is not None and row.product_id is not None and product != row.product_id:
                raise Conflict(f"SIM {number} is on product {row.product_id}, not {product}")
            old = SimState(row.status)
            if (only_from is not None and old not in only_from) or not can_move(old, new):
                raise Conflict(f"SIM {number} is {old.label}; it cannot become {new.label}")
            _move(conn, account_id, row.id, old, new, actor=actor, now=utcnow())

        await self.db.write(move_if_allowed)
        return await self.find(account_id, number)


def _move(
    conn: Connection,
    account_id: int,
    sim_id: int,
    old: SimState,
    new: SimState,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Change one SIM's state if it is still ``old``, and record the event; Conflict if it raced.

    The caller has checked ``can_move(old, new)``; comparing with ``old`` in the
    UPDATE makes the check and the change one atomic step.
    """
    values: dict[str, Any] = {"status": new.value, "status_at": now}
    if new is SimState.ACTIVE and old in _NEVER_ACTIVE:
        values |= {"activated_at": now, "activated_by": actor[:254]}
    moved = conn.execute(
        update(sims).where(sims.c.id == sim_id, sims.c.status == old.value).values(**values)
    )
    if moved.rowcount != 1:
        raise Conflict("the SIM changed state meanwhile; try again")
    conn.execute(
        insert(sim_events).values(
            account_id=account_id,
            sim_id=sim_id,
            from_status=old.value,
            to_status=new.value,
            actor=actor[:254],
            day=kenyan_day(now),
            created_at=now,
        )
    )
