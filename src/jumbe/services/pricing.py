"""What things cost: each account's pricing rule and the operator's packages.

An account's rule (``core.pricing``) decides how many units a message takes;
messaging reads it in the transaction that charges the message. A package is
a rate in KES per unit on one carrier; the operator's staff keep them
(``jumbe packages``, the staff API), customers see the active ones and buy
units of one at its rate of the moment (``services.topups`` keeps that rate).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from jumbe.core.clock import utcnow
from jumbe.core.money import kes_to_cents
from jumbe.core.pricing import Pricing, max_characters, parse_pricing, units_for
from jumbe.services.errors import Conflict, InvalidRequest, NotFound
from jumbe.services.staff import StaffCaller
from jumbe.store.database import Database
from jumbe.store.schema import accounts, packages

__all__ = [
    "Package",
    "Pricing",
    "PricingService",
    "account_pricing",
    "max_characters",
    "units_for",
]

CARRIER = re.compile(r"[a-z][a-z0-9_-]{0,39}")
MAX_RATE_CENTS = 100_000  # KES 1,000 per unit: more is a typo
MAX_UNITS = 10_000_000


@dataclass(frozen=True, slots=True)
class Package:
    id: int
    uuid: str
    carrier: str
    name: str
    rate_cents: int
    min_units: int
    active: bool
    created_at: datetime
    updated_at: datetime


class PricingService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # the account's rule ----------------------------------------------------------

    async def pricing(self, account_id: int) -> Pricing:
        query = select(accounts.c.pricing).where(accounts.c.id == account_id)
        found = await self.db.read(lambda conn: conn.execute(query).scalar_one_or_none())
        if found is None:
            raise NotFound("Account not found")
        return Pricing(found)

    async def set_pricing(self, account_id: int, rule: str) -> Pricing:
        """Change how the account's messages are priced; from the next send on."""
        try:
            pricing = parse_pricing(rule)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        change = update(accounts).where(accounts.c.id == account_id).values(pricing=pricing.value)
        moved = await self.db.write(lambda conn: conn.execute(change).rowcount)
        if moved != 1:
            raise NotFound("Account not found")
        return pricing

    # packages ------------------------------------------------------------------

    async def create_package(
        self,
        staff: StaffCaller | None,
        carrier: str,
        name: str,
        rate_kes: str,
        *,
        min_units: int = 1,
    ) -> Package:
        """A package on ``carrier`` at ``rate_kes`` per unit. ``staff`` is None only for the
        command line, which runs on the operator's own machine."""
        del staff  # only staff (or the CLI) reach this; nothing more to check
        now = utcnow()
        row = {
            "uuid": str(uuid.uuid4()),
            "carrier": _carrier(carrier),
            "name": _name(name),
            "rate_cents": _rate(rate_kes),
            "min_units": _min_units(min_units),
            "active": True,
            "created_at": now,
            "updated_at": now,
        }

        def insert_package(conn: Connection) -> Package:
            conn.execute(insert(packages).values(**row))
            return _package_by(conn, str(row["uuid"]))

        try:
            return await self.db.write(insert_package)
        except IntegrityError:
            taken = f"{row['carrier']} already has a package named {row['name']!r}"
            raise Conflict(taken) from None

    async def change_package(
        self,
        staff: StaffCaller | None,
        package_uuid: str,
        *,
        rate_kes: str | None = None,
        min_units: int | None = None,
        active: bool | None = None,
    ) -> Package:
        """New rate, minimum or availability; top-ups already made keep the rate they had."""
        del staff
        values: dict[str, object] = {"updated_at": utcnow()}
        if rate_kes is not None:
            values["rate_cents"] = _rate(rate_kes)
        if min_units is not None:
            values["min_units"] = _min_units(min_units)
        if active is not None:
            values["active"] = active

        def change(conn: Connection) -> Package:
            moved = conn.execute(
                update(packages).where(packages.c.uuid == package_uuid).values(**values)
            )
            if moved.rowcount != 1:
                raise NotFound("Package not found")
            return _package_by(conn, package_uuid)

        return await self.db.write(change)

    async def list_packages(
        self, *, carrier: str | None = None, active_only: bool = True
    ) -> list[Package]:
        query = select(packages).order_by(packages.c.carrier, packages.c.rate_cents.desc())
        if active_only:
            query = query.where(packages.c.active.is_(True))
        if carrier:
            query = query.where(packages.c.carrier == carrier.strip().lower())
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [_package(r) for r in rows]

    async def find_package(self, ref: str) -> Package:
        """A package by uuid, or ``carrier/name`` (the command line)."""
        where: ColumnElement[bool]
        if "/" in ref:
            carrier, _, name = ref.partition("/")
            where = (packages.c.carrier == carrier.strip().lower()) & (
                packages.c.name == name.strip()
            )
        else:
            where = packages.c.uuid == ref
        row = await self.db.read(lambda conn: conn.execute(select(packages).where(where)).first())
        if row is None:
            raise NotFound("Package not found")
        return _package(row)


def account_pricing(conn: Connection, account_ids: list[int]) -> dict[int, Pricing]:
    """Each account's rule, in the caller's transaction (the one that charges the messages)."""
    rows = conn.execute(
        select(accounts.c.id, accounts.c.pricing).where(accounts.c.id.in_(account_ids))
    )
    return {r.id: Pricing(r.pricing) for r in rows}


def _package_by(conn: Connection, package_uuid: str) -> Package:
    return _package(conn.execute(select(packages).where(packages.c.uuid == package_uuid)).one())


def _package(r: Row[tuple[object, ...]] | Row[object]) -> Package:
    return Package(
        id=r.id,
        uuid=r.uuid,
        carrier=r.carrier,
        name=r.name,
        rate_cents=int(r.rate_cents),
        min_units=int(r.min_units),
        active=bool(r.active),
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _carrier(value: str) -> str:
    carrier = value.strip().lower()
    if not CARRIER.fullmatch(carrier):
        raise InvalidRequest("carrier must be a carrier's name in lower case, e.g. safaricom")
    return carrier


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= 60:
        raise InvalidRequest("package name must be 1 to 60 characters")
    return name


def _rate(value: str) -> int:
    try:
        cents = kes_to_cents(value)
    except ValueError as exc:
        raise InvalidRequest(f"rate: {exc}") from None
    if not 0 < cents <= MAX_RATE_CENTS:
        raise InvalidRequest("rate must be more than KES 0 and at most KES 1000 per unit")
    return cents


def _min_units(value: int) -> int:
    if not 1 <= value <= MAX_UNITS:
        raise InvalidRequest(f"min_units must be between 1 and {MAX_UNITS}")
    return value
