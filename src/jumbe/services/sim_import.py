"""Batches of SIMs from CSV into an account.

Columns: ``iccid,imsi,msisdn`` required; ``asset_name,imei,product_id,
sim_type,status,expiry_year`` optional. A SIM arrives Idle unless the file
says otherwise, and its arrival is a lifecycle event like any other (actor
``import``), so activation trends count it. Duplicates (within the file or
against SIMs already stored, in any account) are refused row by row: the
database's unique constraints decide, with ON CONFLICT DO NOTHING, so two
imports racing each other cannot both take a number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection

from jumbe.core import sim_identifiers
from jumbe.core.clock import utcnow
from jumbe.core.kenya_time import kenyan, kenyan_day
from jumbe.core.sim_identifiers import InvalidIdentifier
from jumbe.core.sim_lifecycle import ARRIVAL_STATES, SimState, parse_state
from jumbe.core.sim_types import DEFAULT_SIM_TYPE, sim_type
from jumbe.services.csv_import import (
    CsvImport,
    ImportReport,
    OnProgress,
    OnRejection,
    Rejection,
    Row,
)
from jumbe.store.database import Database
from jumbe.store.schema import accounts, products, sim_events, sims

REQUIRED = ("iccid", "imsi", "msisdn")
OPTIONAL = ("asset_name", "imei", "product_id", "sim_type", "status", "expiry_year")
SIM_LIFETIME_YEARS = 10  # the expiry year when the file gives none
UNIQUE = ("iccid", "imsi", "msisdn")


async def import_sims(
    db: Database,
    account_id: int,
    source: TextIO,
    *,
    actor: str = "import",
    batch: int = 1000,
    on_progress: OnProgress | None = None,
    on_rejection: OnRejection | None = None,
) -> ImportReport:
    """Import the SIMs of an open CSV text file into the account, a batch per transaction."""
    catalogue = await db.read(
        lambda conn: set(conn.execute(select(products.c.offering_id)).scalars())
    )
    job = CsvImport(
        source,
        required=REQUIRED,
        optional=OPTIONAL,
        batch=batch,
        on_progress=on_progress,
        on_rejection=on_rejection,
    )

    async def store(rows: list[Row]) -> list[Rejection]:
        now = utcnow()
        refused: list[Rejection] = []
        fresh: dict[str, tuple[int, dict[str, Any]]] = {}  # iccid -> (line, row)
        seen: set[str] = set()
        for row in rows:
            parsed = _parse(row.values, catalogue, now)
            if isinstance(parsed, str):
                refused.append(Rejection(row.line, parsed))
                continue
            twice = next((c for c in UNIQUE if f"{c}:{parsed[c]}" in seen), None)
            if twice:
                refused.append(
                    Rejection(row.line, f"duplicate {twice} {parsed[twice]} in the file")
                )
                continue
            seen.update(f"{c}:{parsed[c]}" for c in UNIQUE)
            fresh[parsed["iccid"]] = (row.line, parsed | {"account_id": account_id})
        if not fresh:
            return refused

        def insert_new_sims(conn: Connection) -> list[Rejection]:
            start = _next_position(conn, account_id)
            inserted = conn.execute(
                db.insert(sims)
                .on_conflict_do_nothing()
                .returning(sims.c.id, sims.c.iccid, sims.c.status, sims.c.position),
                [r | {"position": start + n} for n, (_line, r) in enumerate(fresh.values())],
            )
            stored = {r.iccid: r for r in inserted}
            _close_gaps(conn, account_id, start, list(stored.values()))
            if stored:
                conn.execute(
                    insert(sim_events),
                    [
                        {
                            "account_id": account_id,
                            "sim_id": r.id,
                            "from_status": None,
                            "to_status": r.status,
                            "actor": actor,
                            "day": kenyan_day(now),
                            "created_at": now,
                        }
                        for r in stored.values()
                    ],
                )
            lost = [v for k, v in fresh.items() if k not in stored]
            return _why_taken(conn, lost) if lost else []

        return refused + await db.write(insert_new_sims)

    return await job.run(store)


def _parse(values: dict[str, str], catalogue: set[str], now: datetime) -> dict[str, Any] | str:
    """The row as it will be stored, or the reason it cannot be."""
    try:
        row: dict[str, Any] = {
            "iccid": sim_identifiers.iccid(values["iccid"]),
            "imsi": sim_identifiers.imsi(values["imsi"]),
            "msisdn": sim_identifiers.iot_msisdn(values["msisdn"]),
        }
        imei = values["imei"].strip()
        row["imei"] = sim_identifiers.imei(imei) if imei not in ("", "-") else None
    except InvalidIdentifier as exc:
        return str(exc)
    asset_name = values["asset_name"].strip()
    if len(asset_name) > 64:
        return "asset_name is longer than 64 characters"
    row["asset_name"] = asset_name or None
    product = values["product_id"].strip()
    if product and product not in catalogue:
        return f"unknown product_id {product!r} (see `jumbe products list`)"
    row["product_id"] = product or None
    try:
        row["sim_type"] = (
            sim_type(values["sim_type"]).name
            if values["sim_type"].strip()
            else DEFAULT_SIM_TYPE.name
        )
        state = parse_state(values["status"]) if values["status"].strip() else SimState.IDLE
    except ValueError as exc:
        return str(exc)
    if state not in ARRIVAL_STATES:
        return f"a SIM cannot arrive {state.label}"
    year = values["expiry_year"].strip()
    if year and not (year.isdigit() and year.isascii() and 2000 <= int(year) <= 2200):
        return f"expiry_year must be a year such as 2035, got {year!r}"
    row |= {
        "status": state.value,
        "status_at": now,
        "activated_at": now if state in (SimState.ACTIVE, SimState.SUSPENDED) else None,
        "activated_by": "import" if state in (SimState.ACTIVE, SimState.SUSPENDED) else None,
        "expiry_year": int(year) if year else kenyan(now).year + SIM_LIFETIME_YEARS,
        "created_at": now,
    }
    return row


def _next_position(conn: Connection, account_id: int) -> int:
    """The account's next SIM position; on PostgreSQL the row stays locked until commit,
    so concurrent imports into one account take their positions one after the other."""
    query = select(accounts.c.sim_count).where(accounts.c.id == account_id).with_for_update()
    return int(conn.execute(query).scalar_one())


def _close_gaps(conn: Connection, account_id: int, start: int, stored: list[Any]) -> None:
    """Renumber the stored SIMs densely from ``start`` (rows the database refused left
    holes) and move the account's counter past them."""
    for n, row in enumerate(sorted(stored, key=lambda r: r.position)):
        if row.position != start + n:  # ascending: the lower position is always free
            conn.execute(update(sims).where(sims.c.id == row.id).values(position=start + n))
    conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(sim_count=start + len(stored))
    )


def _why_taken(conn: Connection, lost: list[tuple[int, dict[str, Any]]]) -> list[Rejection]:
    """Say which number of each refused row another SIM already has."""
    conditions = [sims.c[c].in_([r[c] for _line, r in lost]) for c in UNIQUE]
    existing = conn.execute(select(*(sims.c[c] for c in UNIQUE)).where(or_(*conditions))).all()
    taken = {c: {getattr(e, c) for e in existing} for c in UNIQUE}
    reasons = []
    for line, row in lost:
        clash = next((c for c in UNIQUE if row[c] in taken[c]), None)
        why = f"{clash} {row[clash]} is already registered" if clash else "already registered"
        reasons.append(Rejection(line, why))
    return reasons
