"""Recipient numbers and the carrier each one belongs to.

The built-in prefix table comes from libphonenumber's data; operators correct
or extend it (number portability, new ranges) through the override table,
editable from the CLI while the server runs. Every process re-reads the
overrides periodically, so a change reaches the dispatcher within a minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from sqlalchemy import delete, select

from jumbe.core.clock import utcnow
from jumbe.core.phone import (
    KENYAN_CARRIERS,
    CarrierTable,
    InvalidNumber,
    carrier_slug,
    is_builtin_carrier,
    normalise,
)
from jumbe.services.errors import InvalidRecipient, InvalidRequest, NotFound
from jumbe.store.database import Database
from jumbe.store.schema import carrier_prefixes

REFRESH_SECONDS = 30.0


class NumberingService:
    def __init__(self, db: Database, *, routed: Iterable[str] = ()) -> None:
        """``routed``: carriers the operator names in its routes, known beside the built-in."""
        self.db = db
        self.routed = frozenset(routed)
        self._table = CarrierTable()
        self._loaded_at = float("-inf")

    @property
    def table(self) -> CarrierTable:
        return self._table

    def recipient(self, raw: str) -> tuple[str, str]:
        """(msisdn, carrier) for a number as a user typed it; InvalidRecipient with the reason."""
        try:
            msisdn = normalise(raw)
        except InvalidNumber as exc:
            raise InvalidRecipient(f"invalid phone number {raw!r}: {exc.reason}") from exc
        return msisdn, self._table.carrier_of(msisdn)

    @staticmethod
    def sender(raw: str) -> str:
        """An MO sender as stored: a phone number in international form like every other,
        anything else (an alphanumeric name, a short code) as it came."""
        try:
            return normalise(raw)
        except InvalidNumber:
            return raw

    def known_carrier(self, name: str) -> str:
        """The slug of a carrier numbering knows (``Safaricom`` -> ``safaricom``): one of
        libphonenumber's or one the routes name; InvalidRequest listing them otherwise."""
        slug = carrier_slug(name)
        if not slug:
            raise InvalidRequest("carrier name must contain letters or digits")
        if not (is_builtin_carrier(slug) or slug in self.routed):
            known = ", ".join(sorted({*KENYAN_CARRIERS, *self.routed}))
            raise InvalidRequest(
                f"unknown carrier {name!r}; the known carriers are {known}"
                " (or another country's, or one named in the [routes] of the settings)"
            )
        return slug

    async def refresh(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return
        rows = await self.db.read(lambda conn: conn.execute(select(carrier_prefixes)).all())
        self._table = CarrierTable({r.prefix: r.carrier for r in rows})
        self._loaded_at = time.monotonic()

    async def overrides(self) -> dict[str, str]:
        rows = await self.db.read(
            lambda conn: conn.execute(select(carrier_prefixes).order_by("prefix")).all()
        )
        return {r.prefix: r.carrier for r in rows}

    async def set_prefix(self, prefix: str, carrier: str) -> None:
        if not re.fullmatch(r"\d{3,15}", prefix):
            raise InvalidRequest("a prefix is 3 to 15 digits in international form, e.g. 254747")
        slug = self.known_carrier(carrier)
        values = {"prefix": prefix, "carrier": slug, "updated_at": utcnow()}
        stmt = self.db.insert(carrier_prefixes).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["prefix"], set_={"carrier": slug, "updated_at": values["updated_at"]}
        )
        await self.db.write(lambda conn: conn.execute(stmt))
        await self.refresh(force=True)

    async def remove_prefix(self, prefix: str) -> None:
        removed = await self.db.write(
            lambda conn: (
                conn.execute(
                    delete(carrier_prefixes).where(carrier_prefixes.c.prefix == prefix)
                ).rowcount
            )
        )
        if removed == 0:
            raise NotFound(f"no override for prefix {prefix}")
        await self.refresh(force=True)
