"""Top-ups with an M-Pesa that misbehaves: pushes that get no clear answer, refusals,
payments never confirmed. A stand-in gateway plays M-Pesa; the database is real."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jumbe.services import Services
from jumbe.services.tokens import Caller
from jumbe.services.topups import (
    GatewayError,
    Settled,
    StkAccepted,
    StkOutcome,
    StkPush,
    TopupService,
)
from jumbe.store.database import Database


class Gateway:
    """Remembers each push; fails it as told; answers queries as told."""

    def __init__(self) -> None:
        self.pushes: list[StkPush] = []
        self.fail: GatewayError | None = None
        self.answer: StkOutcome | None = None
        self.before_answering: Callable[[StkPush], Awaitable[None]] | None = None

    async def stk_push(self, push: StkPush) -> StkAccepted:
        self.pushes.append(push)
        if self.before_answering is not None:
            await self.before_answering(push)
        if self.fail is not None:
            raise self.fail
        return StkAccepted("m-1", f"ws_CO_{len(self.pushes)}")

    async def stk_query(self, checkout_request_id: str) -> StkOutcome | None:
        return self.answer


async def setup(services: Services, db: Database, **timing: timedelta) -> tuple[Any, Caller, str]:
    gateway = Gateway()
    topups = TopupService(db, gateway, callback_base=lambda: "https://sms.example", **timing)
    account = await services.accounts.create_account("Duka")
    caller = Caller(account.account_id, None, frozenset(), user_id=None, role="owner")
    offer = await services.pricing.create_package(None, "safaricom", "Bulk", "1.00")
    return (topups, gateway), caller, offer.uuid


def key_of(push: StkPush) -> str:
    return parse_qs(urlsplit(push.callback_url).query)["key"][0]


async def test_an_unclear_push_waits_for_its_callback(services: Services, db: Database) -> None:
    (topups, gateway), caller, offer = await setup(services, db)
    gateway.fail = GatewayError("cannot reach M-Pesa: ReadTimeout", unclear=True)
    made = await topups.buy(caller, package=offer, units=30, method="mpesa", phone="0712345678")
    assert made.status == "pending" and "waiting for its callback" in made.detail
    assert made.checkout_request_id is None
    push = gateway.pushes[0]
    assert push.amount == 30 and push.phone == "254712345678"
    paid = StkOutcome("ws_CO_real", 0, "ok", amount=30, receipt="QKH94M1Z11")
    assert await topups.settle(paid, callback_key="wrong") is Settled.FORGED
    assert await topups.settle(paid, callback_key=key_of(push)) is Settled.COMPLETED
    assert await topups.settle(paid, callback_key=key_of(push)) is Settled.ALREADY
    done = await topups.get(caller, made.uuid)
    assert (done.status, done.checkout_request_id, done.mpesa_receipt) == (
        "completed",
        "ws_CO_real",
        "QKH94M1Z11",
    )
    assert await services.billing.balance(caller.account_id) == 30
    assert (await topups.reconcile(caller.account_id)).ok


async def test_a_clear_refusal_fails_at_once(services: Services, db: Database) -> None:
    (topups, gateway), caller, offer = await setup(services, db)
    gateway.fail = GatewayError("HTTP 400: Bad Request - Invalid PhoneNumber")
    made = await topups.buy(caller, package=offer, units=5, method="mpesa", phone="0712345678")
    assert made.status == "failed"
    assert made.detail == "M-Pesa refused: HTTP 400: Bad Request - Invalid PhoneNumber"


async def test_payments_never_confirmed_fail_after_the_give_up_time(
    services: Services, db: Database
) -> None:
    (topups, gateway), caller, offer = await setup(
        services,
        db,
        query_after=timedelta(0),
        query_every=timedelta(0),
        give_up_after=timedelta(0),
    )
    asked = await topups.buy(caller, package=offer, units=5, method="mpesa", phone="0712345678")
    gateway.fail = GatewayError("cannot reach M-Pesa: ReadTimeout", unclear=True)
    never = await topups.buy(caller, package=offer, units=5, method="mpesa", phone="0712345678")
    gateway.answer = None  # M-Pesa keeps saying "being processed"
    assert await topups.query_due() == 2
    for made, why in (
        (asked, "M-Pesa never confirmed the payment"),
        (never, "M-Pesa never took the payment request"),
    ):
        done = await topups.get(caller, made.uuid)
        assert (done.status, done.detail) == ("failed", why)
    assert await topups.query_due() == 0
    assert await services.billing.balance(caller.account_id) == 0


async def test_a_callback_quicker_than_the_push_answer(services: Services, db: Database) -> None:
    """M-Pesa may call back before its answer to the push has been recorded."""
    (topups, gateway), caller, offer = await setup(services, db)

    async def pay_at_once(push: StkPush) -> None:
        paid = StkOutcome("ws_CO_1", 0, "ok", amount=7, receipt="QKH94M1Z22")
        assert await topups.settle(paid, callback_key=key_of(push)) is Settled.COMPLETED

    gateway.before_answering = pay_at_once
    made = await topups.buy(caller, package=offer, units=7, method="mpesa", phone="0712345678")
    assert (made.status, made.checkout_request_id) == ("completed", "ws_CO_1")
    assert made.detail == "paid by M-Pesa (QKH94M1Z22)"
    assert await services.billing.balance(caller.account_id) == 7
