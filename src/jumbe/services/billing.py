"""Wallets over an append-only ledger, one wallet per account and asset.

Assets are SMS ``units`` (what messages cost) and ``KES`` in cents (what
priced services such as the IMSI check cost); they never mix, so each has its
own wallet and its own ledger lines. The balance column is a cache of
SUM(ledger_entries.units) for the account and asset, updated in the same
transaction as every ledger insert, and guarded by a CHECK (balance >= 0) so
that no interleaving can overdraw it. ``reconcile`` recomputes everything from
the ledger and what it paid for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.errors import InsufficientBalance, InvalidRequest, NotFound
from jumbe.store.database import Database
from jumbe.store.schema import imsi_checks, ledger_entries, messages, wallets

MAX_CREDIT = 10**12
UNITS = "units"
KES = "KES"  # amounts in cents
ASSETS = (UNITS, KES)
_SHORT_OF = {UNITS: "Insufficient SMS unit balance", KES: "Insufficient KES balance"}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One asset's wallet checked against its ledger and against what the ledger paid for.

    ``paid_for`` is what the debited things cost by their own records (messages'
    units for ``units``, IMSI checks' prices for ``KES``); ``refunded_for`` the
    same for refunds.
    """

    asset: str
    balance: int
    ledger_sum: int
    debited: int
    paid_for: int
    refunded: int
    refunded_for: int

    @property
    def ok(self) -> bool:
        return (
            self.balance == self.ledger_sum
            and self.balance >= 0
            and self.debited == self.paid_for
            and self.refunded == self.refunded_for
        )


@dataclass(frozen=True, slots=True)
class LedgerLine:
    id: int
    asset: str
    units: int
    kind: str
    description: str
    message_count: int
    created_at: datetime


class BillingService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def credit(
        self, account_id: int, units: int, description: str = "top-up", *, asset: str = UNITS
    ) -> int:
        """Add ``units`` of ``asset`` (KES in cents); the new balance."""
        _check_asset(asset)
        if not 0 < units <= MAX_CREDIT:
            raise InvalidRequest(f"the amount to credit must be between 1 and {MAX_CREDIT}")

        def post_credit(conn: Connection) -> int:
            post_entry(conn, account_id, units, "credit", description, asset=asset)
            return _balance(conn, account_id, asset)

        return await self.db.write(post_credit)

    async def debit(
        self, account_id: int, units: int, description: str, *, asset: str = UNITS
    ) -> int:
        """A debit that pays for nothing recorded elsewhere (an adjustment)."""
        _check_asset(asset)
        if not 0 < units <= MAX_CREDIT:
            raise InvalidRequest(f"the amount to debit must be between 1 and {MAX_CREDIT}")

        def post_debit(conn: Connection) -> int:
            post_entry(conn, account_id, -units, "adjustment", description, asset=asset)
            return _balance(conn, account_id, asset)

        return await self.db.write(post_debit)

    async def balance(self, account_id: int, asset: str = UNITS) -> int:
        _check_asset(asset)
        return await self.db.read(lambda conn: _balance(conn, account_id, asset))

    async def ledger(self, account_id: int, limit: int = 50) -> list[LedgerLine]:
        query = (
            select(ledger_entries)
            .where(ledger_entries.c.account_id == account_id)
            .order_by(ledger_entries.c.id.desc())
            .limit(limit)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [
            LedgerLine(r.id, r.asset, r.units, r.kind, r.description, r.message_count, r.created_at)
            for r in rows
        ]

    async def reconcile(self, account_id: int, asset: str = UNITS) -> Reconciliation:
        """Recompute one asset's balance and what it paid for from scratch, in one snapshot.

        Units pay for messages (debits) and come back as refunds; KES pays for
        IMSI checks (charges) and is never refunded.
        """
        _check_asset(asset)
        le = ledger_entries
        spent = "debit" if asset == UNITS else "charge"

        def sum_ledger(conn: Connection) -> tuple[int, Any, tuple[int, int]]:
            balance = _balance(conn, account_id, asset)
            sums = conn.execute(
                select(
                    func.coalesce(func.sum(le.c.units), 0),
                    func.coalesce(func.sum(le.c.units).filter(le.c.kind == spent), 0),
                    func.coalesce(func.sum(le.c.units).filter(le.c.kind == "refund"), 0),
                ).where(le.c.account_id == account_id, le.c.asset == asset)
            ).one()
            return balance, sums, _paid_for(conn, account_id, asset)

        balance, sums, (paid_for, refunded_for) = await self.db.read(sum_ledger)
        return Reconciliation(
            asset=asset,
            balance=balance,
            ledger_sum=int(sums[0]),
            debited=-int(sums[1]),
            paid_for=paid_for,
            refunded=int(sums[2]),
            refunded_for=refunded_for,
        )


def post_entry(
    conn: Connection,
    account_id: int,
    units: int,
    kind: str,
    description: str,
    *,
    asset: str = UNITS,
    message_count: int = 0,
    now: datetime | None = None,
) -> int:
    """Append one ledger entry and move the cached balance with it, in the caller's transaction.

    A negative entry that would overdraw the wallet raises InsufficientBalance
    and writes nothing (the guarded UPDATE matches no row).
    """
    now = now or utcnow()
    wallet = (wallets.c.account_id == account_id) & (wallets.c.asset == asset)
    guard = wallets.c.balance >= -units if units < 0 else wallet
    moved = conn.execute(
        update(wallets)
        .where(wallet, guard)
        .values(balance=wallets.c.balance + units, updated_at=now)
    )
    if moved.rowcount != 1:
        exists = conn.execute(select(wallets.c.balance).where(wallet))
        if exists.first() is None:
            raise NotFound(f"account {account_id} has no {asset} wallet")
        raise InsufficientBalance(_SHORT_OF[asset])
    entry: int = (
        conn.execute(
            insert(ledger_entries)
            .values(
                account_id=account_id,
                asset=asset,
                units=units,
                kind=kind,
                description=description[:255],
                message_count=message_count,
                created_at=now,
            )
            .returning(ledger_entries.c.id)
        )
    ).scalar_one()
    return entry


def open_wallets(conn: Connection, account_id: int, now: datetime) -> None:
    """An empty wallet of every asset for a new account, in the caller's transaction."""
    conn.execute(
        insert(wallets),
        [{"account_id": account_id, "asset": a, "balance": 0, "updated_at": now} for a in ASSETS],
    )


def _balance(conn: Connection, account_id: int, asset: str = UNITS) -> int:
    balance = (
        conn.execute(
            select(wallets.c.balance).where(
                wallets.c.account_id == account_id, wallets.c.asset == asset
            )
        )
    ).scalar_one_or_none()
    if balance is None:
        raise NotFound(f"account {account_id} has no {asset} wallet")
    return int(balance)


def _paid_for(conn: Connection, account_id: int, asset: str) -> tuple[int, int]:
    """(cost of what was debited, cost of what was refunded) by the paid-for records."""
    if asset == KES:
        price = func.coalesce(func.sum(imsi_checks.c.price), 0)
        charged = conn.execute(
            select(price).where(
                imsi_checks.c.account_id == account_id, imsi_checks.c.ledger_entry_id.is_not(None)
            )
        )
        return int(charged.scalar_one()), 0
    m = messages
    units = (
        conn.execute(
            select(
                func.coalesce(func.sum(m.c.units).filter(m.c.ledger_entry_id.is_not(None)), 0),
                func.coalesce(func.sum(m.c.units).filter(m.c.refund_entry_id.is_not(None)), 0),
            ).where(m.c.account_id == account_id)
        )
    ).one()
    return int(units[0]), int(units[1])


def _check_asset(asset: str) -> None:
    if asset not in ASSETS:
        raise InvalidRequest(f"asset must be one of {', '.join(ASSETS)}")
