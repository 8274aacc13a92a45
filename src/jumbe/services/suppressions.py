"""Opt-outs: the numbers an account may not send promotional traffic to.

Kenya's Data Protection Act wants a way out of marketing messages. A customer
texts ``STOP`` (or another configured keyword) to an account's short code or
sender number, and the number joins that account's suppression list; ``START``
takes it off. ``OptOuts`` is an event handler: it reads the MO messages a
transaction stores (``events.MessageReceived``, already matched to the account
that owns the number they were sent to) and writes the list in the same
transaction, so an opt-out is never lost between storing the MO and acting on
it. The list is also viewable, editable and importable (a file with a number
or phone column, read like a contact file). Campaigns ask ``suppressed``.
"""

from __future__ import annotations

import asyncio
import string
import uuid as uuidlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.contact_files import Sheet, keep, open_sheet, sniff
from jumbe.services.contacts import Page
from jumbe.services.csv_import import KEPT_REJECTIONS, ImportReport, Rejection
from jumbe.services.errors import InvalidRecipient, NotFound
from jumbe.services.events import AfterCommit, Event, MessageReceived
from jumbe.services.numbering import NumberingService
from jumbe.store.database import Database
from jumbe.store.schema import suppressions

BATCH = 1000
CHUNK = 500  # numbers per IN (...) when asking which are suppressed
DEFAULT_STOP = ("STOP", "STOPALL", "UNSUBSCRIBE")
DEFAULT_START = ("START", "UNSTOP", "SUBSCRIBE")
_TRIM = string.whitespace + string.punctuation


@dataclass(frozen=True, slots=True)
class Suppression:
    phone: str  # international digits
    source: str
    created_at: datetime


def _insert(conn: Connection) -> Any:
    return (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(suppressions)


def _add(conn: Connection, account_id: int, numbers: Iterable[str], source: str) -> None:
    now = utcnow()
    rows = [
        {"account_id": account_id, "msisdn": n, "source": source, "created_at": now}
        for n in numbers
    ]
    if rows:
        conn.execute(_insert(conn).on_conflict_do_nothing(), rows)


class OptOuts:
    """The event handler: STOP adds the MO's sender to the account's list, START removes it."""

    def __init__(
        self, stop: Sequence[str] = DEFAULT_STOP, start: Sequence[str] = DEFAULT_START
    ) -> None:
        self.stop = frozenset(k.upper() for k in stop)
        self.start = frozenset(k.upper() for k in start)

    def keyword(self, body: str) -> str | None:
        """``stop`` or ``start`` for a message that is just one of the keywords (any case,
        stray punctuation around it), else None: "please stop by" opts nobody out."""
        word = body.strip(_TRIM).upper()
        if word in self.stop:
            return "stop"
        if word in self.start:
            return "start"
        return None

    def __call__(
        self, conn: Connection, events: Sequence[Event], now: datetime, /
    ) -> AfterCommit | None:
        for event in events:
            if not isinstance(event, MessageReceived) or event.account_id is None:
                continue
            if not event.sender.isdigit() or len(event.body) > 40:
                continue
            meant = self.keyword(event.body)
            if meant == "stop":
                _add(conn, event.account_id, [event.sender], "mo")
            elif meant == "start":
                conn.execute(
                    delete(suppressions).where(
                        suppressions.c.account_id == event.account_id,
                        suppressions.c.msisdn == event.sender,
                    )
                )
        return None


class SuppressionService:
    def __init__(self, db: Database, numbering: NumberingService, directory: Path) -> None:
        self.db = db
        self.numbering = numbering
        self.directory = directory

    async def suppressed(self, account_id: int, numbers: Iterable[str]) -> set[str]:
        """Which of ``numbers`` (international digits) the account may not send promotions to."""
        wanted = list(dict.fromkeys(numbers))

        def read(conn: Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), CHUNK):
                found.update(
                    conn.execute(
                        select(suppressions.c.msisdn).where(
                            suppressions.c.account_id == account_id,
                            suppressions.c.msisdn.in_(wanted[start : start + CHUNK]),
                        )
                    ).scalars()
                )
            return found

        return await self.db.read(read) if wanted else set()

    async def page(
        self, account_id: int, *, page: int, page_size: int, search: str | None = None
    ) -> Page[Suppression]:
        where = [suppressions.c.account_id == account_id]
        digits = "".join(c for c in search or "" if c.isdigit())
        if digits:
            where.append(suppressions.c.msisdn.like(f"%{digits.removeprefix('0')}%"))

        def read(conn: Connection) -> Page[Suppression]:
            total = conn.execute(select(func.count()).select_from(suppressions).where(*where))
            rows = conn.execute(
                select(suppressions)
                .where(*where)
                .order_by(suppressions.c.created_at.desc(), suppressions.c.msisdn)
                .limit(page_size)
                .offset((page - 1) * page_size)
            )
            items = [Suppression(r.msisdn, r.source, r.created_at) for r in rows]
            return Page(items, int(total.scalar_one()))

        return await self.db.read(read)

    async def add(self, account_id: int, phone: str) -> Suppression:
        msisdn, _carrier = self.numbering.recipient(phone)

        def write(conn: Connection) -> Suppression:
            _add(conn, account_id, [msisdn], "api")
            row = conn.execute(
                select(suppressions).where(
                    suppressions.c.account_id == account_id, suppressions.c.msisdn == msisdn
                )
            ).one()
            return Suppression(row.msisdn, row.source, row.created_at)

        return await self.db.write(write)

    async def remove(self, account_id: int, phone: str) -> str:
        msisdn, _carrier = self.numbering.recipient(phone)

        def write(conn: Connection) -> int:
            return conn.execute(
                delete(suppressions).where(
                    suppressions.c.account_id == account_id, suppressions.c.msisdn == msisdn
                )
            ).rowcount

        if not await self.db.write(write):
            raise NotFound(f"+{msisdn} is not on the list")
        return msisdn

    async def import_file(self, account_id: int, source: IO[bytes]) -> ImportReport:
        """Every number of a CSV or XLSX file (its number or phone column) onto the list,
        a batch per transaction; bad lines reported with their numbers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"suppressions-{uuidlib.uuid4()}.upload"
        try:
            await asyncio.to_thread(keep, source, path)
            kind = await asyncio.to_thread(sniff, path)
            sheet = await asyncio.to_thread(open_sheet, path, kind, 64 * 1024 * 1024)
            try:
                return await self._import(account_id, sheet)
            finally:
                await asyncio.to_thread(sheet.close)
        finally:
            path.unlink(missing_ok=True)

    async def _import(self, account_id: int, sheet: Sheet) -> ImportReport:
        report = ImportReport()
        batches = sheet.batches(BATCH)
        column = sheet.columns.number
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            numbers: list[str] = []
            for item in batch:
                if isinstance(item, Rejection):
                    _reject(report, item)
                    continue
                try:
                    numbers.append(self.numbering.recipient(item.values[column])[0])
                except InvalidRecipient as exc:
                    _reject(report, Rejection(item.line, exc.message))
            await self.db.write(
                partial(_add, account_id=account_id, numbers=numbers, source="import")
            )
            report.accepted += len(numbers)
        return report


def _reject(report: ImportReport, rejection: Rejection) -> None:
    report.rejected += 1
    if len(report.rejections) < KEPT_REJECTIONS:
        report.rejections.append(rejection)
