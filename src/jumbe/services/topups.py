"""Top-ups: buying units into a wallet, paid by M-Pesa Express (STK push) or offline.

A top-up is PENDING until it is paid (M-Pesa's callback, or the answer to our
own ``stkpushquery`` when no callback comes) or approved by staff (a bank
transfer), then COMPLETED or FAILED. The move out of PENDING and the ledger
credit are one transaction guarded by ``status = 'pending'``: whichever of a
callback, a repeated callback and a query gets there first credits, the
others find nothing to move. A callback is believed only when it comes to the
secret URL made for that payment, names the CheckoutRequestID M-Pesa gave us
for it, and (when paid) the amount we asked for; anything else is ignored
and answered like any other callback, so a forger learns nothing.

Units go to the team wallet, or to the float of the sender registration the
top-up names (``sender_id``; the package's carrier must be the registration's):
``_wallet_credit`` is the one place that chooses, and opens the float on its
first credit.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jumbe.core.clock import utcnow
from jumbe.core.phone import InvalidNumber, normalise
from jumbe.core.sender_names import ANY_CARRIER
from jumbe.services.billing import open_float, post_entry
from jumbe.services.errors import Conflict, Forbidden, InvalidRequest, NotFound, TooManyAttempts
from jumbe.services.roles import require
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import Caller
from jumbe.store.database import Database
from jumbe.store.schema import ledger_entries, packages, sender_ids, topups, users

log = logging.getLogger(__name__)

# + "?key=<the payment's secret>": a query parameter, which the access log masks; and no
# "mpesa" in the path, a word Safaricom refuses in some callback URLs
CALLBACK_PATH = "/api/v1/payments/callback"
MAX_UNITS = 10_000_000
MPESA_MAX_KES = 250_000  # the most one M-Pesa payment may move
MAX_PAGE_SIZE = 100
# M-Pesa payments an account may have waiting at once: each one is a prompt on
# somebody's phone, and a team member must not be able to flood a number with them
MAX_PENDING_MPESA = 3


class TopupStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class Method(StrEnum):
    MPESA = "mpesa"
    OFFLINE = "offline"


# M-Pesa Express result codes worth their own words
SUCCESS = 0
CANCELLED = 1032
TIMED_OUT = 1037
_RESULT_WORDS = {
    CANCELLED: "cancelled on the phone",
    TIMED_OUT: "the phone did not answer in time",
}


# What this service needs of M-Pesa (``engine.mpesa.DarajaClient`` and the simulator) --------


@dataclass(frozen=True, slots=True)
class StkPush:
    phone: str  # 2547XXXXXXXX
    amount: int  # whole shillings: M-Pesa moves no cents
    account_reference: str
    description: str
    callback_url: str


@dataclass(frozen=True, slots=True)
class StkAccepted:
    merchant_request_id: str
    checkout_request_id: str


@dataclass(frozen=True, slots=True)
class StkOutcome:
    """How a payment ended, from a callback or a query. ``amount`` and ``receipt`` come only
    with a paid callback (a query tells the result, not the details)."""

    checkout_request_id: str
    result_code: int
    result_desc: str
    amount: int | None = None
    receipt: str | None = None


class GatewayError(Exception):
    """M-Pesa refused a request or could not be reached; the message says which.

    ``unclear``: the request may have reached M-Pesa all the same (no answer came, or a
    server error): an STK push may still prompt the customer, so its top-up waits.
    """

    def __init__(self, message: str, *, unclear: bool = False) -> None:
        super().__init__(message)
        self.unclear = unclear


class PaymentGateway(Protocol):
    """M-Pesa Express as this service uses it; raises GatewayError."""

    async def stk_push(self, push: StkPush) -> StkAccepted: ...

    async def stk_query(self, checkout_request_id: str) -> StkOutcome | None:
        """The outcome, or None while M-Pesa still waits for the customer."""
        ...


# -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopupView:
    uuid: str
    account_id: int
    sender_id: int | None
    method: str
    status: str
    detail: str
    carrier: str
    package_uuid: str
    package_name: str
    units: int
    rate_cents: int
    amount_cents: int
    phone: str | None
    reference: str | None
    checkout_request_id: str | None
    mpesa_receipt: str | None
    requested_by: str
    reviewed_by: str | None
    created_at: datetime
    status_at: datetime
    sender_uuid: str | None = None  # the float it fills (None: the team wallet)
    sender_name: str | None = None


@dataclass(frozen=True, slots=True)
class TopupReconciliation:
    """Completed top-ups against the ledger credits they point at."""

    completed: int
    units: int
    credited: int
    uncredited: int  # completed top-ups without their credit

    @property
    def ok(self) -> bool:
        return self.units == self.credited and self.uncredited == 0


class Settled(StrEnum):
    """What a callback or a query did: the callback route answers the same whatever it was."""

    COMPLETED = "completed"
    FAILED = "failed"
    ALREADY = "already settled"
    UNKNOWN = "unknown payment"
    FORGED = "not believed"


class TopupService:
    def __init__(
        self,
        db: Database,
        gateway: PaymentGateway,
        *,
        callback_base: Callable[[], str],
        query_after: timedelta = timedelta(seconds=90),
        query_every: timedelta = timedelta(seconds=30),
        give_up_after: timedelta = timedelta(minutes=10),
    ) -> None:
        """``callback_base``: the public URL M-Pesa calls back (the server knows its port)."""
        self.db = db
        self.gateway = gateway
        self.callback_base = callback_base
        self.query_after = query_after
        self.query_every = query_every
        self.give_up_after = give_up_after

    # buying ----------------------------------------------------------------------

    async def buy(
        self,
        caller: Caller,
        *,
        package: str,
        units: int,
        method: str,
        phone: str | None = None,
        reference: str | None = None,
        sender: str | None = None,
    ) -> TopupView:
        """Start a top-up: an STK push to ``phone``, or an offline one for staff to approve.

        ``sender``: a sender registration (its UUID, or its name on the package's
        carrier) whose own float the units fill; without one, the team wallet."""
        require(_role(caller), "manage_billing")
        try:
            how = Method(method)
        except ValueError:
            raise InvalidRequest("method must be mpesa or offline") from None
        if not 1 <= units <= MAX_UNITS:
            raise InvalidRequest(f"units must be between 1 and {MAX_UNITS}")
        payer = _payer(phone) if how is Method.MPESA else None
        bank_ref = _bank_reference(reference) if how is Method.OFFLINE else None
        key = secrets.token_urlsafe(24)
        now = utcnow()
        topup_uuid = str(uuid.uuid4())

        def create(conn: Connection) -> int:
            pack = conn.execute(
                select(packages).where(packages.c.uuid == package, packages.c.active.is_(True))
            ).first()
            if pack is None:
                raise NotFound("Package not found (or withdrawn)")
            if units < pack.min_units:
                raise InvalidRequest(f"this package sells at least {pack.min_units} units")
            float_of = _float_for(conn, caller.account_id, sender, pack.carrier) if sender else None
            amount = _whole_shillings(units * pack.rate_cents)
            if how is Method.MPESA and amount > MPESA_MAX_KES * 100:
                raise InvalidRequest(
                    f"one M-Pesa payment moves at most KES {MPESA_MAX_KES:,}; buy fewer units"
                )
            if how is Method.MPESA:
                waiting = conn.execute(
                    select(func.count())
                    .select_from(topups)
                    .where(
                        topups.c.account_id == caller.account_id,
                        topups.c.method == Method.MPESA.value,
                        topups.c.status == TopupStatus.PENDING.value,
                    )
                ).scalar_one()
                if waiting >= MAX_PENDING_MPESA:
                    raise TooManyAttempts(
                        f"{waiting} M-Pesa payments are still waiting for an answer;"
                        " try again once they are done",
                        retry_after=30,
                    )
            email = conn.execute(
                select(users.c.email).where(users.c.id == caller.user_id)
            ).scalar_one_or_none()
            return int(
                conn.execute(
                    insert(topups)
                    .values(
                        uuid=topup_uuid,
                        account_id=caller.account_id,
                        sender_id=float_of,
                        package_id=pack.id,
                        carrier=pack.carrier,
                        units=units,
                        rate_cents=pack.rate_cents,
                        amount_cents=amount,
                        method=how.value,
                        status=TopupStatus.PENDING.value,
                        status_detail=(
                            "waiting for the M-Pesa payment"
                            if how is Method.MPESA
                            else "waiting for staff to confirm the bank transfer"
                        ),
                        requested_by=email or f"user {caller.user_id}",
                        phone=payer,
                        reference=bank_ref,
                        callback_key_hash=_hash(key) if how is Method.MPESA else None,
                        # asked about if no callback comes; failed if no push was ever made
                        query_at=now + self.query_after if how is Method.MPESA else None,
                        created_at=now,
                        status_at=now,
                    )
                    .returning(topups.c.id)
                ).scalar_one()
            )

        topup_id = await self.db.write(create)
        if how is Method.MPESA:
            await self._push(topup_id, key)
        return await self.get(caller, topup_uuid)

    async def _push(self, topup_id: int, key: str) -> None:
        row = await self.db.read(
            lambda conn: conn.execute(select(topups).where(topups.c.id == topup_id)).one()
        )
        push = StkPush(
            phone=row.phone,
            amount=row.amount_cents // 100,
            account_reference=row.uuid.replace("-", "")[:12].upper(),
            description="SMS units",
            callback_url=f"{self.callback_base().rstrip('/')}{CALLBACK_PATH}?key={key}",
        )
        try:
            accepted = await self.gateway.stk_push(push)
        except GatewayError as exc:
            log.warning("top-up %s: STK push failed: %s", row.uuid, exc)
            if exc.unclear:  # the prompt may be on the phone: its callback will tell
                waiting = f"M-Pesa gave no clear answer ({exc}): waiting for its callback"
                await self.db.write(partial(_note, topup_id=topup_id, detail=waiting))
                return
            why = f"M-Pesa refused: {exc}"
            await self.db.write(lambda conn: _finish(conn, topup_id, TopupStatus.FAILED, why))
            return

        def record(conn: Connection) -> None:
            # a quick callback may have settled it already, and told us the same id
            conn.execute(
                update(topups)
                .where(topups.c.id == topup_id, topups.c.checkout_request_id.is_(None))
                .values(checkout_request_id=accepted.checkout_request_id)
            )
            conn.execute(
                update(topups)
                .where(topups.c.id == topup_id)
                .values(merchant_request_id=accepted.merchant_request_id)
            )
            _note(conn, topup_id, "STK push sent: waiting for the customer to confirm")

        await self.db.write(record)

    # M-Pesa's answers --------------------------------------------------------------

    async def settle(self, outcome: StkOutcome, *, callback_key: str | None) -> Settled:
        """Apply a callback (``callback_key``: the secret in the URL it came to) or the
        answer to our own query (``callback_key`` None). Credits at most once."""

        checkout = outcome.checkout_request_id

        def apply_outcome(conn: Connection) -> Settled:
            if callback_key is None:
                found = topups.c.checkout_request_id == checkout
            else:  # the URL names the payment; the id must be the one M-Pesa gave us for it
                found = topups.c.callback_key_hash == _hash(callback_key)
            row = conn.execute(select(topups).where(found)).first()
            if row is None:
                return Settled.UNKNOWN if callback_key is None else Settled.FORGED
            if row.checkout_request_id not in (None, checkout):
                return Settled.FORGED
            if row.status != TopupStatus.PENDING.value:
                return Settled.ALREADY
            if outcome.result_code != SUCCESS:
                words = _RESULT_WORDS.get(outcome.result_code, outcome.result_desc[:200])
                detail = f"M-Pesa: {words} ({outcome.result_code})"
                moved = _finish(
                    conn,
                    row.id,
                    TopupStatus.FAILED,
                    detail,
                    result_code=outcome.result_code,
                    checkout=checkout,
                )
                return Settled.FAILED if moved else Settled.ALREADY
            if callback_key is not None and (
                outcome.amount != row.amount_cents // 100 or not outcome.receipt
            ):
                return Settled.FORGED
            receipt = outcome.receipt or None
            detail = f"paid by M-Pesa{f' ({receipt})' if receipt else ''}"
            if not _finish(
                conn,
                row.id,
                TopupStatus.COMPLETED,
                detail,
                result_code=0,
                receipt=receipt,
                checkout=checkout,
            ):
                return Settled.ALREADY
            _wallet_credit(conn, row, f"top-up {row.uuid}: {detail}")
            return Settled.COMPLETED

        try:
            settled = await self.db.write(apply_outcome)
        except IntegrityError:  # a receipt number another top-up already holds
            settled = Settled.FORGED
        if settled in (Settled.FORGED, Settled.UNKNOWN):
            log.warning(
                "M-Pesa %s ignored: %s (%s)",
                "callback" if callback_key is not None else "query answer",
                settled.value,
                outcome.checkout_request_id[:64],
            )
        return settled

    async def query_due(self, *, limit: int = 20) -> int:
        """Ask M-Pesa about pending payments whose callback is late; how many were asked.

        Each row is claimed by moving its ``query_at`` on (only one node gets it); a
        payment M-Pesa never took, or cannot answer for, fails after ``give_up_after``.
        """
        now = utcnow()
        due = await self.db.read(
            lambda conn: conn.execute(
                select(topups.c.id, topups.c.query_at)
                .where(topups.c.status == TopupStatus.PENDING.value, topups.c.query_at <= now)
                .order_by(topups.c.query_at)
                .limit(limit)
            ).all()
        )
        asked = 0
        for topup_id, query_at in due:
            row = await self.db.write(partial(self._claim, topup_id=topup_id, query_at=query_at))
            if row is not None:
                asked += 1
                await self._ask(row, too_late=row.created_at + self.give_up_after <= now)
        return asked

    async def _ask(self, row: Any, *, too_late: bool) -> None:
        if row.checkout_request_id is None:
            if too_late:
                await self._give_up(row.id, "M-Pesa never took the payment request")
            return
        try:
            outcome = await self.gateway.stk_query(row.checkout_request_id)
        except GatewayError as exc:
            log.warning("top-up %s: stkpushquery failed: %s", row.uuid, exc)
            outcome = None
        if outcome is not None:
            await self.settle(outcome, callback_key=None)
        elif too_late:
            await self._give_up(row.id, "M-Pesa never confirmed the payment")

    async def _give_up(self, topup_id: int, why: str) -> None:
        await self.db.write(
            partial(_finish, topup_id=topup_id, status=TopupStatus.FAILED, detail=why)
        )

    def _claim(self, conn: Connection, *, topup_id: int, query_at: datetime) -> Any:
        moved = conn.execute(
            update(topups)
            .where(
                topups.c.id == topup_id,
                topups.c.status == TopupStatus.PENDING.value,
                topups.c.query_at == query_at,
            )
            .values(
                query_at=utcnow() + self.query_every, query_attempts=topups.c.query_attempts + 1
            )
        )
        if moved.rowcount != 1:
            return None
        return conn.execute(select(topups).where(topups.c.id == topup_id)).one()

    # offline: staff decide --------------------------------------------------------------

    async def review(
        self, staff: StaffCaller | None, topup_uuid: str, *, approve: bool, reason: str = ""
    ) -> TopupView:
        """Approve an offline top-up (its units are credited) or reject it with a reason.
        ``staff`` is None only for the command line, on the operator's own machine."""
        reviewer = staff.email if staff is not None else "the operator (command line)"
        reason = " ".join(reason.split())[:200]
        if not approve and not reason:
            raise InvalidRequest("say why the top-up is rejected (reason)")

        def decide(conn: Connection) -> None:
            row = conn.execute(select(topups).where(topups.c.uuid == topup_uuid)).first()
            if row is None:
                raise NotFound("Top-up not found")
            if row.method != Method.OFFLINE.value:
                raise Conflict("M-Pesa top-ups are settled by M-Pesa, not by staff")
            status = TopupStatus.COMPLETED if approve else TopupStatus.FAILED
            detail = (
                f"bank transfer confirmed by {reviewer}"
                if approve
                else f"rejected by {reviewer}: {reason}"
            )
            if not _finish(conn, row.id, status, detail, reviewed_by=reviewer):
                raise Conflict(f"this top-up is already {row.status}")
            if approve:
                _wallet_credit(conn, row, f"top-up {row.uuid}: {detail}")

        await self.db.write(decide)
        return await self._view(topups.c.uuid == topup_uuid)

    # reading ---------------------------------------------------------------------

    async def get(self, caller: Caller, topup_uuid: str) -> TopupView:
        require(_role(caller), "view")
        return await self._view(
            (topups.c.uuid == topup_uuid) & (topups.c.account_id == caller.account_id)
        )

    async def list_topups(
        self, caller: Caller, *, page: int = 1, page_size: int = 20
    ) -> tuple[list[TopupView], int]:
        require(_role(caller), "view")
        return await self._page(topups.c.account_id == caller.account_id, page, page_size)

    async def list_for_staff(
        self,
        staff: StaffCaller | None,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[TopupView], int]:
        """Every account's top-ups (``status`` pending: what waits for a decision)."""
        del staff
        condition: Any = topups.c.id.is_not(None)
        if status:
            try:
                condition = topups.c.status == TopupStatus(status.lower()).value
            except ValueError:
                raise InvalidRequest("status must be pending, completed or failed") from None
        return await self._page(condition, page, page_size)

    async def reconcile(self, account_id: int) -> TopupReconciliation:
        def sum_completed(conn: Connection) -> Any:
            t = topups
            return conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(t.c.units), 0),
                    func.coalesce(func.sum(ledger_entries.c.units), 0),
                    func.count().filter(ledger_entries.c.id.is_(None)),
                )
                .select_from(
                    t.outerjoin(ledger_entries, ledger_entries.c.id == t.c.ledger_entry_id)
                )
                .where(t.c.account_id == account_id, t.c.status == TopupStatus.COMPLETED.value)
            ).one()

        count, units, credited, uncredited = await self.db.read(sum_completed)
        return TopupReconciliation(int(count), int(units), int(credited), int(uncredited))

    async def _page(self, condition: Any, page: int, page_size: int) -> tuple[list[TopupView], int]:
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page must be 1 or more, page_size 1 to {MAX_PAGE_SIZE}")

        def page_of_topups(conn: Connection) -> tuple[list[TopupView], int]:
            total = conn.execute(select(func.count()).select_from(topups).where(condition))
            rows = conn.execute(
                _joined()
                .where(condition)
                .order_by(topups.c.id.desc())
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).all()
            return [_view(r) for r in rows], int(total.scalar_one())

        return await self.db.read(page_of_topups)

    async def _view(self, condition: Any) -> TopupView:
        row = await self.db.read(lambda conn: conn.execute(_joined().where(condition)).first())
        if row is None:
            raise NotFound("Top-up not found")
        return _view(row)


def _wallet_credit(conn: Connection, row: Any, description: str) -> None:
    """Credit the top-up's units and point it at the credit, in the caller's transaction.

    The one place that picks the wallet: the float of ``row.sender_id`` (opened by its
    first credit), or the team wallet when the top-up names no sender.
    """
    if row.sender_id is not None:
        open_float(conn, row.account_id, row.sender_id)
    entry = post_entry(
        conn, row.account_id, int(row.units), "credit", description, sender_id=row.sender_id
    )
    conn.execute(update(topups).where(topups.c.id == row.id).values(ledger_entry_id=entry))


def _float_for(conn: Connection, account_id: int, sender: str, carrier: str) -> int:
    """The approved registration whose float a top-up of ``carrier``'s package fills:
    named by UUID, or by name (its registration on that carrier, else on every carrier).
    A float is filled with its own carrier's package: another carrier's is refused."""
    s = sender_ids
    held = conn.execute(
        select(s.c.id, s.c.uuid, s.c.name, s.c.carrier, s.c.status).where(
            s.c.account_id == account_id, (s.c.uuid == sender) | (s.c.name == sender)
        )
    ).all()
    by_uuid = [h for h in held if h.uuid == sender]
    named = by_uuid or held
    if not named:
        raise InvalidRequest(
            f"sender ID {sender[:36]!r} is not registered for this account"
            " (give a sender registration's UUID or an approved name)"
        )
    fitting = [h for h in named if h.carrier == carrier] or [
        h for h in named if h.carrier == ANY_CARRIER
    ]
    if not fitting:
        on = ", ".join(sorted({h.carrier for h in named}))
        raise InvalidRequest(
            f"this package is for {carrier}, and sender ID {named[0].name!r} is registered on"
            f" {on}: a sender's float is topped up with a package of its own carrier"
        )
    found = fitting[0]
    if found.status != "approved":
        raise InvalidRequest(f"sender ID {found.name!r} is not approved (it is {found.status})")
    return int(found.id)


def _finish(
    conn: Connection,
    topup_id: int,
    status: TopupStatus,
    detail: str,
    *,
    result_code: int | None = None,
    receipt: str | None = None,
    reviewed_by: str | None = None,
    checkout: str | None = None,
) -> bool:
    """Move a pending top-up to its end; False when it had already left pending.
    ``checkout``: M-Pesa's id for it, when only the callback told us (an unclear push)."""
    values: dict[str, Any] = {
        "status": status.value,
        "status_detail": detail[:255],
        "status_at": utcnow(),
        "query_at": None,
    }
    if result_code is not None:
        values["result_code"] = result_code
    if receipt is not None:
        values["mpesa_receipt"] = receipt[:32]
    if reviewed_by is not None:
        values["reviewed_by"] = reviewed_by
    if checkout is not None:
        values["checkout_request_id"] = checkout
    moved = conn.execute(
        update(topups)
        .where(topups.c.id == topup_id, topups.c.status == TopupStatus.PENDING.value)
        .values(**values)
    )
    return bool(moved.rowcount == 1)


def _note(conn: Connection, topup_id: int, detail: str) -> None:
    """Say where a pending top-up stands (nothing, once it has ended)."""
    conn.execute(
        update(topups)
        .where(topups.c.id == topup_id, topups.c.status == TopupStatus.PENDING.value)
        .values(status_detail=detail)
    )


def _joined() -> Any:
    return select(
        topups,
        packages.c.uuid.label("package_uuid"),
        packages.c.name.label("package_name"),
        sender_ids.c.uuid.label("sender_uuid"),
        sender_ids.c.name.label("sender_name"),
    ).select_from(
        topups.join(packages, packages.c.id == topups.c.package_id).outerjoin(
            sender_ids, sender_ids.c.id == topups.c.sender_id
        )
    )


def _view(r: Any) -> TopupView:
    return TopupView(
        uuid=r.uuid,
        account_id=r.account_id,
        sender_id=r.sender_id,
        method=r.method,
        status=r.status,
        detail=r.status_detail,
        carrier=r.carrier,
        package_uuid=r.package_uuid,
        package_name=r.package_name,
        units=int(r.units),
        rate_cents=int(r.rate_cents),
        amount_cents=int(r.amount_cents),
        phone=r.phone,
        reference=r.reference,
        checkout_request_id=r.checkout_request_id,
        mpesa_receipt=r.mpesa_receipt,
        requested_by=r.requested_by,
        reviewed_by=r.reviewed_by,
        created_at=r.created_at,
        status_at=r.status_at,
        sender_uuid=r.sender_uuid,
        sender_name=r.sender_name,
    )


def _role(caller: Caller) -> str:
    if caller.role is None:
        raise Forbidden("Forbidden: top-ups are made by members signed in, not by API tokens")
    return caller.role


def _payer(phone: str | None) -> str:
    if not phone:
        raise InvalidRequest("phone is required for an M-Pesa payment (format 254XXXXXXXXX)")
    try:
        number = normalise(phone)
    except InvalidNumber as exc:
        raise InvalidRequest(f"phone: {exc.reason}") from None
    if not number.startswith("254"):
        raise InvalidRequest("phone must be a Kenyan M-Pesa number (254XXXXXXXXX)")
    return number


def _bank_reference(reference: str | None) -> str:
    ref = " ".join((reference or "").split())
    if not 1 <= len(ref) <= 64:
        raise InvalidRequest("reference (the bank transfer's reference) must be 1 to 64 characters")
    return ref


def _whole_shillings(cents: int) -> int:
    """M-Pesa moves whole shillings: a price in cents rounds up to the next shilling."""
    return -(-cents // 100) * 100


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class NoGateway:
    """For tools that never start a payment (the command line): any use is a clear error."""

    async def stk_push(self, push: StkPush) -> StkAccepted:
        raise GatewayError("M-Pesa payments are started by the running server")

    async def stk_query(self, checkout_request_id: str) -> StkOutcome | None:
        raise GatewayError("M-Pesa payments are queried by the running server")
