"""The IMSI / SIM-swap check: what a partner may learn about a number, at a price.

A check of a registered Safaricom number is charged to the partner's KES
wallet and audited in one transaction: no answer without its charge, no
charge without its audit row. A number that is invalid, not Safaricom's, or
not registered is audited but not charged. With too little KES nothing is
written at all. Each partner may check ``per_minute`` numbers a minute (per
node), so a leaked token cannot drain the registry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from secrets import token_hex
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.core.kenya_time import kenyan
from jumbe.core.swap_check import hashed_imsi, partner_key, recent_swap
from jumbe.services.billing import KES, post_entry
from jumbe.services.errors import InvalidRecipient, NotFound
from jumbe.services.limits import AttemptLimiter
from jumbe.services.numbering import NumberingService
from jumbe.services.signing_keys import shared_secret
from jumbe.store.database import Database
from jumbe.store.schema import imsi_checks, sim_swaps, subscribers

SAFARICOM = "safaricom"
SECRET_FILE = "imsi-hash.key"  # where a single node kept its key before the database did
SECRET_NAME = "imsi_hash_key"


class ImsiHashKey:
    """The server secret under which IMSIs are hashed, the same on every node.

    The configured one when set (``JUMBE_IMSI_HASH_SECRET``); otherwise the
    cluster's, kept in the database beside the signing secret, so a partner gets
    the same hash from whichever node answers. A single node that kept its key
    in the data dir before (``imsi-hash.key``) has that key adopted as the
    cluster's on first use, so its partners' hashes do not change.
    """

    def __init__(self, db: Database, configured: str, data_dir: Path) -> None:
        self.db = db
        self._value = configured.encode() if configured else None
        self._file = data_dir / SECRET_FILE
        self._loading = asyncio.Lock()

    async def get(self) -> bytes:
        if self._value is None:
            async with self._loading:
                if self._value is None:
                    try:
                        earlier: str | None = self._file.read_text().strip() or None
                    except FileNotFoundError:
                        earlier = None
                    stored = await shared_secret(self.db, SECRET_NAME, earlier or token_hex(32))
                    self._value = stored.encode()
        return self._value


@dataclass(frozen=True, slots=True)
class ImsiCheck:
    msisdn: str
    hashed_imsi: str
    last_swap: date  # the 1900 sentinel when there was none in the last three months
    registered_on: date


class ImsiCheckService:
    def __init__(
        self,
        db: Database,
        numbering: NumberingService,
        *,
        secret: ImsiHashKey,
        price_cents: int,
        per_minute: int,
    ) -> None:
        self.db = db
        self.numbering = numbering
        self._secret = secret
        self.price_cents = price_cents
        self.limiter = AttemptLimiter(per_minute)

    async def check(self, partner: int, number: str) -> ImsiCheck:
        self.limiter.attempt(f"partner:{partner}")
        try:
            msisdn, carrier = self.numbering.recipient(number)
            if carrier != SAFARICOM:
                raise InvalidRecipient(f"{msisdn} is not a Safaricom number")
        except InvalidRecipient:
            await self._audit(partner, number[:32], "invalid")
            raise
        now = utcnow()

        def look_up_and_charge(conn: Connection) -> tuple[Any, datetime | None]:
            row = conn.execute(
                select(subscribers.c.imsi, subscribers.c.registered_on).where(
                    subscribers.c.msisdn == msisdn
                )
            ).one_or_none()
            if row is None:
                return None, None
            last_swap = conn.execute(
                select(func.max(sim_swaps.c.swapped_at)).where(sim_swaps.c.msisdn == msisdn)
            ).scalar_one_or_none()
            entry = post_entry(
                conn,
                partner,
                -self.price_cents,
                "charge",
                f"IMSI check of {msisdn}",
                asset=KES,
                now=now,
            )
            conn.execute(
                insert(imsi_checks).values(
                    account_id=partner,
                    msisdn=msisdn,
                    outcome="found",
                    price=self.price_cents,
                    ledger_entry_id=entry,
                    created_at=now,
                )
            )
            return row, last_swap

        row, last_swap = await self.db.write(look_up_and_charge)
        if row is None:
            await self._audit(partner, msisdn, "not_found")
            raise NotFound(f"{msisdn} is not registered on the network")
        today = kenyan(now).date()
        return ImsiCheck(
            msisdn=msisdn,
            hashed_imsi=hashed_imsi(partner_key(await self._secret.get(), partner), row.imsi),
            last_swap=recent_swap(kenyan(last_swap).date() if last_swap else None, today),
            registered_on=row.registered_on,
        )

    async def _audit(self, partner: int, msisdn: str, outcome: str) -> None:
        def insert_audit(conn: Connection) -> None:
            conn.execute(
                insert(imsi_checks).values(
                    account_id=partner, msisdn=msisdn, outcome=outcome, created_at=utcnow()
                )
            )

        await self.db.write(insert_audit)
