"""The subscriber registry behind the IMSI check: each number's SIM and its swaps.

The operator feeds it (a CSV of numbers with their IMSI and registration date,
then swaps one by one as they happen); partners only ever read it through the
check, which never shows them an IMSI.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TextIO

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core import sim_identifiers
from jumbe.core.clock import utcnow
from jumbe.core.kenya_time import kenyan
from jumbe.core.phone import InvalidNumber, normalise
from jumbe.core.sim_identifiers import InvalidIdentifier
from jumbe.services.csv_import import (
    CsvImport,
    ImportReport,
    OnProgress,
    OnRejection,
    Rejection,
    Row,
)
from jumbe.services.errors import InvalidRequest, NotFound
from jumbe.store.database import Database
from jumbe.store.schema import sim_swaps, subscribers

COLUMNS = ("msisdn", "imsi", "registration_date")


def subscriber_number(raw: str) -> str:
    """A Kenyan mobile number in international digits; InvalidRequest with the reason."""
    try:
        return normalise(raw)
    except InvalidNumber as exc:
        raise InvalidRequest(f"invalid phone number {raw!r}: {exc.reason}") from exc


class SubscriberService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def import_csv(
        self,
        source: TextIO,
        *,
        batch: int = 1000,
        on_progress: OnProgress | None = None,
        on_rejection: OnRejection | None = None,
    ) -> ImportReport:
        """Register the numbers of an open CSV text file; a number already registered is refused."""
        job = CsvImport(
            source,
            required=COLUMNS,
            batch=batch,
            on_progress=on_progress,
            on_rejection=on_rejection,
        )
        return await job.run(self._store)

    async def _store(self, rows: list[Row]) -> list[Rejection]:
        now = utcnow()
        today = kenyan(now).date()
        refused: list[Rejection] = []
        fresh: dict[str, tuple[int, dict[str, object]]] = {}
        for row in rows:
            try:
                msisdn = normalise(row.values["msisdn"])
                imsi = sim_identifiers.imsi(row.values["imsi"])
                registered_on = date.fromisoformat(row.values["registration_date"].strip())
            except InvalidNumber as exc:
                refused.append(Rejection(row.line, f"msisdn: {exc.reason}"))
                continue
            except (InvalidIdentifier, ValueError) as exc:
                refused.append(Rejection(row.line, _reason(exc)))
                continue
            if registered_on > today:
                refused.append(Rejection(row.line, "registration_date is in the future"))
            elif msisdn in fresh:
                refused.append(Rejection(row.line, f"duplicate msisdn {msisdn} in the file"))
            else:
                values = {"msisdn": msisdn, "imsi": imsi, "registered_on": registered_on}
                fresh[msisdn] = (row.line, values | {"updated_at": now})
        if fresh:
            statement = (
                self.db.insert(subscribers).on_conflict_do_nothing().returning(subscribers.c.msisdn)
            )
            batch = [values for _line, values in fresh.values()]

            def insert_new_numbers(conn: Connection) -> set[str]:
                return set(conn.execute(statement, batch).scalars())

            stored = await self.db.write(insert_new_numbers)
            refused += [
                Rejection(line, f"msisdn {msisdn} is already registered")
                for msisdn, (line, _values) in fresh.items()
                if msisdn not in stored
            ]
        return refused

    async def swap(self, msisdn: str, imsi: str, *, at: datetime | None = None) -> datetime:
        """Record that the number moved to a new SIM (IMSI) at ``at`` (default now)."""
        number = subscriber_number(msisdn)
        try:
            new_imsi = sim_identifiers.imsi(imsi)
        except InvalidIdentifier as exc:
            raise InvalidRequest(str(exc)) from exc
        now = utcnow()
        when = at or now
        if when > now:
            raise InvalidRequest("a swap cannot be in the future")

        def record_swap(conn: Connection) -> None:
            row = conn.execute(
                select(subscribers).where(subscribers.c.msisdn == number)
            ).one_or_none()
            if row is None:
                raise NotFound(f"{number} is not in the subscriber registry")
            if row.imsi == new_imsi:
                raise InvalidRequest(f"{number} already has IMSI {new_imsi}")
            if kenyan(when).date() < row.registered_on:
                raise InvalidRequest("a swap cannot precede the number's registration")
            latest = conn.execute(
                select(func.max(sim_swaps.c.swapped_at)).where(sim_swaps.c.msisdn == number)
            ).scalar_one_or_none()
            if latest is not None and when < latest:
                raise InvalidRequest("a swap cannot precede the number's last recorded swap")
            conn.execute(
                insert(sim_swaps).values(
                    msisdn=number, old_imsi=row.imsi, new_imsi=new_imsi, swapped_at=when
                )
            )
            conn.execute(
                update(subscribers)
                .where(subscribers.c.msisdn == number)
                .values(imsi=new_imsi, updated_at=now)
            )

        await self.db.write(record_swap)
        return when


def _reason(exc: Exception) -> str:
    if isinstance(exc, InvalidIdentifier):
        return str(exc)
    return "registration_date must be an ISO date such as 2024-03-01"
