"""Wallets over an append-only ledger: a wallet is (account, asset, sender or none).

Assets are SMS ``units`` (what messages cost) and ``KES`` in cents (what
priced services such as the IMSI check cost); they never mix, so each has its
own wallet and its own ledger lines. Beside the team's wallet of units, a
sender registration may hold its own *float* of units (Kimisms: "Each Sender
ID maintains its own float balance"), which exists from its first credit
(``open_float``); which wallet pays for a message is messaging's rule. Every
ledger line names its wallet (``sender_id``, NULL for the team's). The
balance column is a cache of SUM(ledger_entries.units) for the wallet,
updated in the same transaction as every ledger insert, and guarded by a
CHECK (balance >= 0) so that no interleaving can overdraw it. ``reconcile``
recomputes everything from the ledger and what it paid for, wallet by wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.services.errors import InsufficientBalance, InvalidRequest, NotFound
from jumbe.store.database import Database
from jumbe.store.schema import imsi_checks, ledger_entries, messages, sender_ids, wallets

MAX_CREDIT = 10**12
UNITS = "units"
KES = "KES"  # amounts in cents
ASSETS = (UNITS, KES)
_SHORT_OF = {UNITS: "Insufficient SMS unit balance", KES: "Insufficient KES balance"}


@dataclass(frozen=True, slots=True)
class Float:
    """A sender registration's own float of units."""

    sender_uuid: str
    name: str
    carrier: str
    units: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A wallet (or all of an asset's) checked against its ledger and what it paid for.

    ``paid_for`` is what the debited things cost by their own records (messages'
    units for ``units``, IMSI checks' prices for ``KES``); ``refunded_for`` the
    same for refunds. ``sender``: the float's registration (None: the team's
    wallet, or every wallet of the asset for ``BillingService.reconcile``).
    """

    asset: str
    balance: int
    ledger_sum: int
    debited: int
    paid_for: int
    refunded: int
    refunded_for: int
    sender: Float | None = None

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
        self,
        account_id: int,
        units: int,
        description: str = "top-up",
        *,
        asset: str = UNITS,
        sender: str | None = None,
    ) -> int:
        """Add ``units`` of ``asset`` (KES in cents); the new balance. ``sender``: a
        registration's UUID, whose float gets the units (opened by this credit)."""
        _check_asset(asset)
        if not 0 < units <= MAX_CREDIT:
            raise InvalidRequest(f"the amount to credit must be between 1 and {MAX_CREDIT}")

        def post_credit(conn: Connection) -> int:
            float_of = None
            if sender is not None:
                if asset != UNITS:
                    raise InvalidRequest("a sender's float holds SMS units only")
                float_of = _registration_id(conn, account_id, sender)
                open_float(conn, account_id, float_of)
            post_entry(
                conn, account_id, units, "credit", description, asset=asset, sender_id=float_of
            )
            return _balance(conn, account_id, asset, float_of)

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
        """The team wallet's balance (sender floats: ``floats``)."""
        _check_asset(asset)
        return await self.db.read(lambda conn: _balance(conn, account_id, asset))

    async def floats(self, account_id: int) -> list[Float]:
        """The account's sender floats, by name and carrier."""
        query = (
            select(sender_ids.c.uuid, sender_ids.c.name, sender_ids.c.carrier, wallets.c.balance)
            .select_from(wallets.join(sender_ids, sender_ids.c.id == wallets.c.sender_id))
            .where(wallets.c.account_id == account_id, wallets.c.asset == UNITS)
            .order_by(sender_ids.c.name, sender_ids.c.carrier)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [Float(r.uuid, r.name, r.carrier, int(r.balance)) for r in rows]

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
        """Every wallet of one asset together (the team's and its sender floats)."""
        _check_asset(asset)
        mine = [r for r in await self.reconcile_wallets(account_id) if r.asset == asset]
        return Reconciliation(
            asset=asset,
            balance=sum(r.balance for r in mine),
            ledger_sum=sum(r.ledger_sum for r in mine),
            debited=sum(r.debited for r in mine),
            paid_for=sum(r.paid_for for r in mine),
            refunded=sum(r.refunded for r in mine),
            refunded_for=sum(r.refunded_for for r in mine),
        )

    async def reconcile_wallets(self, account_id: int) -> list[Reconciliation]:
        """Each wallet's balance and what it paid for, recomputed from scratch in one snapshot.

        Units pay for messages (debits) and come back as refunds, each to the wallet
        its ledger line names; KES pays for IMSI checks (charges) and is never refunded.
        Team wallets first (units, KES), then the floats by name and carrier.
        """
        return await self.db.read(lambda conn: _reconcile_wallets(conn, account_id))


def _reconcile_wallets(conn: Connection, account_id: int) -> list[Reconciliation]:
    le = ledger_entries
    spent = func.coalesce(func.sum(le.c.units).filter(le.c.kind.in_(("debit", "charge"))), 0)
    sums = {
        (r.asset, r.sender_id): r
        for r in conn.execute(
            select(
                le.c.asset,
                le.c.sender_id,
                func.coalesce(func.sum(le.c.units), 0).label("total"),
                spent.label("spent"),
                func.coalesce(func.sum(le.c.units).filter(le.c.kind == "refund"), 0).label(
                    "refunded"
                ),
            )
            .where(le.c.account_id == account_id)
            .group_by(le.c.asset, le.c.sender_id)
        )
    }
    paid, refunded = _paid_for(conn, account_id)
    rows = conn.execute(
        select(wallets, sender_ids.c.uuid, sender_ids.c.name, sender_ids.c.carrier)
        .select_from(wallets.outerjoin(sender_ids, sender_ids.c.id == wallets.c.sender_id))
        .where(wallets.c.account_id == account_id)
    ).all()
    if not rows:
        raise NotFound(f"account {account_id} has no wallets")
    found = []
    for w in rows:
        key = (w.asset, w.sender_id)
        line = sums.get(key)
        found.append(
            Reconciliation(
                asset=w.asset,
                balance=int(w.balance),
                ledger_sum=int(line.total) if line else 0,
                debited=-int(line.spent) if line else 0,
                paid_for=paid.get(key, 0),
                refunded=int(line.refunded) if line else 0,
                refunded_for=refunded.get(key, 0),
                sender=(
                    None
                    if w.sender_id is None
                    else Float(w.uuid, w.name, w.carrier, int(w.balance))
                ),
            )
        )
    return sorted(
        found,
        key=lambda r: (
            r.sender is not None,
            ASSETS.index(r.asset),
            (r.sender.name, r.sender.carrier) if r.sender else ("", ""),
        ),
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
    sender_id: int | None = None,
) -> int:
    """Append one ledger entry and move the cached balance with it, in the caller's transaction.

    ``sender_id``: the registration whose float it moves (None: the team's wallet).
    A negative entry that would overdraw the wallet raises InsufficientBalance
    and writes nothing (the guarded UPDATE matches no row).
    """
    now = now or utcnow()
    wallet = _wallet(account_id, asset, sender_id)
    guard = wallets.c.balance >= -units if units < 0 else wallet
    moved = conn.execute(
        update(wallets)
        .where(wallet, guard)
        .values(balance=wallets.c.balance + units, updated_at=now)
    )
    if moved.rowcount != 1:
        exists = conn.execute(select(wallets.c.balance).where(wallet))
        if exists.first() is None:
            whose = "" if sender_id is None else f" float for sender {sender_id}"
            raise NotFound(f"account {account_id} has no {asset} wallet{whose}")
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
                sender_id=sender_id,
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


def open_float(conn: Connection, account_id: int, sender_id: int) -> None:
    """The registration's float of units, empty, unless it has one: in the caller's
    transaction, before its first credit (two first credits at once make one float)."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    conn.execute(
        dialect.insert(wallets)
        .values(
            account_id=account_id, asset=UNITS, sender_id=sender_id, balance=0, updated_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["account_id", "asset", "sender_id"])
    )


def _wallet(account_id: int, asset: str, sender_id: int | None) -> Any:
    mine = (wallets.c.account_id == account_id) & (wallets.c.asset == asset)
    if sender_id is None:
        return mine & wallets.c.sender_id.is_(None)
    return mine & (wallets.c.sender_id == sender_id)


def _registration_id(conn: Connection, account_id: int, sender_uuid: str) -> int:
    found = conn.execute(
        select(sender_ids.c.id).where(
            sender_ids.c.uuid == sender_uuid, sender_ids.c.account_id == account_id
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"sender registration {sender_uuid[:36]!r} not found for this account")
    return int(found)


def _balance(
    conn: Connection, account_id: int, asset: str = UNITS, sender_id: int | None = None
) -> int:
    balance = conn.execute(
        select(wallets.c.balance).where(_wallet(account_id, asset, sender_id))
    ).scalar_one_or_none()
    if balance is None:
        raise NotFound(f"account {account_id} has no {asset} wallet")
    return int(balance)


Paid = dict[tuple[str, int | None], int]


def _paid_for(conn: Connection, account_id: int) -> tuple[Paid, Paid]:
    """(cost of what each wallet debited, of what was refunded to it) by the paid-for records,
    keyed by (asset, sender_id): messages by the wallet their debit and refund lines name."""
    charged = conn.execute(
        select(func.coalesce(func.sum(imsi_checks.c.price), 0)).where(
            imsi_checks.c.account_id == account_id, imsi_checks.c.ledger_entry_id.is_not(None)
        )
    ).scalar_one()
    paid: Paid = {(KES, None): int(charged)}
    refunded: Paid = {}
    m, le = messages, ledger_entries
    for column, into in ((m.c.ledger_entry_id, paid), (m.c.refund_entry_id, refunded)):
        rows = conn.execute(
            select(le.c.sender_id, func.coalesce(func.sum(m.c.units), 0))
            .select_from(m.join(le, le.c.id == column))
            .where(m.c.account_id == account_id)
            .group_by(le.c.sender_id)
        )
        for sender_id, units in rows:
            into[(UNITS, sender_id)] = int(units)
    return paid, refunded


def _check_asset(asset: str) -> None:
    if asset not in ASSETS:
        raise InvalidRequest(f"asset must be one of {', '.join(ASSETS)}")
