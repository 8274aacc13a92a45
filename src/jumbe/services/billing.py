"""Unit wallets over an append-only ledger.

The balance column is a cache of SUM(ledger_entries.units) for the account,
updated in the same transaction as every ledger insert, and guarded by a
CHECK (balance >= 0) so that no interleaving can overdraw it. ``reconcile``
recomputes everything from the ledger and the messages it paid for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from jumbe.services.errors import InsufficientBalance, InvalidRequest, NotFound
from jumbe.store.database import Database
from jumbe.store.schema import ledger_entries, messages, utcnow, wallets

MAX_CREDIT = 10**12


@dataclass(frozen=True, slots=True)
class Reconciliation:
    balance: int
    ledger_sum: int
    debited: int
    message_units: int
    refunded: int
    refunded_message_units: int

    @property
    def ok(self) -> bool:
        return (
            self.balance == self.ledger_sum
            and self.balance >= 0
            and self.debited == self.message_units
            and self.refunded == self.refunded_message_units
        )


@dataclass(frozen=True, slots=True)
class LedgerLine:
    id: int
    units: int
    kind: str
    description: str
    message_count: int
    created_at: datetime


class BillingService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def credit(self, account_id: int, units: int, description: str = "top-up") -> int:
        if not 0 < units <= MAX_CREDIT:
            raise InvalidRequest(f"units to credit must be between 1 and {MAX_CREDIT}")
        async with self.db.transaction() as conn:
            await post_entry(conn, account_id, units, "credit", description)
            return await _balance(conn, account_id)

    async def debit(self, account_id: int, units: int, description: str) -> int:
        """A debit that is not for messages (adjustments; later: SIM-swap checks)."""
        if not 0 < units <= MAX_CREDIT:
            raise InvalidRequest(f"units to debit must be between 1 and {MAX_CREDIT}")
        async with self.db.transaction() as conn:
            await post_entry(conn, account_id, -units, "adjustment", description)
            return await _balance(conn, account_id)

    async def balance(self, account_id: int) -> int:
        async with self.db.snapshot() as conn:
            return await _balance(conn, account_id)

    async def ledger(self, account_id: int, limit: int = 50) -> list[LedgerLine]:
        query = (
            select(ledger_entries)
            .where(ledger_entries.c.account_id == account_id)
            .order_by(ledger_entries.c.id.desc())
            .limit(limit)
        )
        async with self.db.snapshot() as conn:
            rows = (await conn.execute(query)).all()
        return [
            LedgerLine(r.id, r.units, r.kind, r.description, r.message_count, r.created_at)
            for r in rows
        ]

    async def reconcile(self, account_id: int) -> Reconciliation:
        """Recompute the balance and what was paid for from scratch, in one snapshot."""
        le, m = ledger_entries, messages
        async with self.db.snapshot() as conn:
            balance = await _balance(conn, account_id)
            sums = (
                await conn.execute(
                    select(
                        func.coalesce(func.sum(le.c.units), 0),
                        func.coalesce(func.sum(le.c.units).filter(le.c.kind == "debit"), 0),
                        func.coalesce(func.sum(le.c.units).filter(le.c.kind == "refund"), 0),
                    ).where(le.c.account_id == account_id)
                )
            ).one()
            units = (
                await conn.execute(
                    select(
                        func.coalesce(
                            func.sum(m.c.units).filter(m.c.ledger_entry_id.is_not(None)), 0
                        ),
                        func.coalesce(
                            func.sum(m.c.units).filter(m.c.refund_entry_id.is_not(None)), 0
                        ),
                    ).where(m.c.account_id == account_id)
                )
            ).one()
        return Reconciliation(
            balance=balance,
            ledger_sum=int(sums[0]),
            debited=-int(sums[1]),
            message_units=int(units[0]),
            refunded=int(sums[2]),
            refunded_message_units=int(units[1]),
        )


async def post_entry(
    conn: AsyncConnection,
    account_id: int,
    units: int,
    kind: str,
    description: str,
    *,
    message_count: int = 0,
    now: datetime | None = None,
) -> int:
    """Append one ledger entry and move the cached balance with it, in the caller's transaction.

    A negative entry that would overdraw the wallet raises InsufficientBalance
    and writes nothing (the guarded UPDATE matches no row).
    """
    now = now or utcnow()
    guard = wallets.c.balance >= -units if units < 0 else wallets.c.account_id == account_id
    moved = await conn.execute(
        update(wallets)
        .where(wallets.c.account_id == account_id, guard)
        .values(balance=wallets.c.balance + units, updated_at=now)
    )
    if moved.rowcount != 1:
        exists = await conn.execute(
            select(wallets.c.balance).where(wallets.c.account_id == account_id)
        )
        if exists.first() is None:
            raise NotFound(f"account {account_id} has no wallet")
        raise InsufficientBalance("Insufficient SMS unit balance")
    return (
        await conn.execute(
            insert(ledger_entries)
            .values(
                account_id=account_id,
                units=units,
                kind=kind,
                description=description[:255],
                message_count=message_count,
                created_at=now,
            )
            .returning(ledger_entries.c.id)
        )
    ).scalar_one()


async def _balance(conn: AsyncConnection, account_id: int) -> int:
    balance = (
        await conn.execute(select(wallets.c.balance).where(wallets.c.account_id == account_id))
    ).scalar_one_or_none()
    if balance is None:
        raise NotFound(f"account {account_id} has no wallet")
    return int(balance)
