"""Sender floats: a sender registration's own units beside the team wallet, through the ledger.

On real databases (SQLite, and PostgreSQL when configured): which wallet pays,
refusal rather than fallback when a float is short, refunds to the wallet that
paid, top-ups that fill a float, and many concurrent sends against a small float.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from jumbe.services import Services
from jumbe.services.errors import InsufficientBalance, InvalidRequest, NotFound
from jumbe.services.messaging import SendRequest
from jumbe.services.tokens import Caller
from jumbe.services.topups import StkAccepted, StkOutcome, StkPush, TopupService
from jumbe.services.views import MessageView
from jumbe.settings import Settings
from jumbe.store.database import Database
from jumbe.store.schema import ledger_entries, messages
from tests.integration.test_wallet import race_two_engines

SAFARICOM = "+254712345678"
AIRTEL = "+254733123456"


async def floats_world(services: Services) -> tuple[int, str, str]:
    """An account with DUKALETU on Safaricom and on Airtel, and 100 units in the team wallet."""
    account = await services.accounts.create_account("Duka")
    safaricom = await services.senders.create(account.account_id, "DUKALETU", "safaricom")
    airtel = await services.senders.create(account.account_id, "DUKALETU", "airtel")
    await services.billing.credit(account.account_id, 100)
    return account.account_id, safaricom.uuid, airtel.uuid


def units_of(floats: list[Any]) -> dict[str, int]:
    return {f.carrier: f.units for f in floats}


async def all_reconciled(services: Services, account_id: int) -> bool:
    return all(r.ok for r in await services.billing.reconcile_wallets(account_id))


async def test_the_float_pays_when_there_is_one_else_the_team(services: Services) -> None:
    account_id, safaricom, _airtel = await floats_world(services)
    assert await services.billing.floats(account_id) == []  # no float before a top-up
    await services.billing.credit(account_id, 5, "float", sender=safaricom)
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 5}

    # to Safaricom: the Safaricom registration's float pays; the team wallet is untouched
    sent = await services.messaging.send(account_id, SendRequest(SAFARICOM, "x" * 161, "DUKALETU"))
    assert sent.units == 2 and sent.sender == "DUKALETU"
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 3}
    assert await services.billing.balance(account_id) == 100
    # by the registration's UUID too
    await services.messaging.send(account_id, SendRequest(SAFARICOM, "hi", safaricom))
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 2}
    # to Airtel: that registration has no float, so the team wallet pays
    await services.messaging.send(account_id, SendRequest(AIRTEL, "hi", "DUKALETU"))
    assert await services.billing.balance(account_id) == 99
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 2}
    assert await all_reconciled(services, account_id)


async def test_the_registration_on_the_carrier_itself_comes_before_one_for_every_carrier(
    services: Services,
) -> None:
    account = await services.accounts.create_account("Duka")
    account_id = account.account_id
    everywhere = await services.senders.create(account_id, "DUKALETU", "*")
    safaricom = await services.senders.create(account_id, "DUKALETU", "safaricom")
    await services.billing.credit(account_id, 10)
    await services.billing.credit(account_id, 3, "float", sender=safaricom.uuid)
    await services.messaging.send(account_id, SendRequest(SAFARICOM, "hi", "DUKALETU"))
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 2}
    await services.messaging.send(account_id, SendRequest(AIRTEL, "hi", "DUKALETU"))
    assert await services.billing.balance(account_id) == 9  # '*' has no float: the team pays
    await services.billing.credit(account_id, 4, "float", sender=everywhere.uuid)
    await services.messaging.send(account_id, SendRequest(AIRTEL, "hi", "DUKALETU"))
    assert units_of(await services.billing.floats(account_id)) == {"*": 3, "safaricom": 2}
    assert await services.billing.balance(account_id) == 9
    assert await all_reconciled(services, account_id)


async def test_a_short_float_refuses_and_never_falls_back_to_the_team(
    services: Services, db: Database
) -> None:
    account_id, safaricom, _airtel = await floats_world(services)
    await services.billing.credit(account_id, 1, "float", sender=safaricom)
    with pytest.raises(InsufficientBalance, match="float on sender ID 'DUKALETU'"):
        await services.messaging.send(account_id, SendRequest(SAFARICOM, "x" * 200, "DUKALETU"))
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 1}
    assert await services.billing.balance(account_id) == 100
    stored = await db.read(lambda conn: conn.execute(select(messages.c.id)).all())
    assert stored == []


async def test_unsent_messages_are_refunded_to_the_wallet_that_paid(
    services: Services, db: Database
) -> None:
    account_id, safaricom, _airtel = await floats_world(services)
    await services.billing.credit(account_id, 4, "float", sender=safaricom)
    from_float = await services.messaging.send(
        account_id, SendRequest(SAFARICOM, "from the float", "DUKALETU")
    )
    from_team = await services.messaging.send(
        account_id, SendRequest(AIRTEL, "from the team", "DUKALETU")
    )
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 3}
    assert await services.billing.balance(account_id) == 99
    await services.messaging.cancel(account_id, from_float.uuid)
    await services.messaging.cancel(account_id, from_team.uuid)
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 4}
    assert await services.billing.balance(account_id) == 100

    def refunds(conn: Connection) -> Any:
        return conn.execute(
            select(ledger_entries.c.units, ledger_entries.c.sender_id)
            .where(ledger_entries.c.kind == "refund")
            .order_by(ledger_entries.c.id)
        ).all()

    lines = await db.read(refunds)
    assert [line.units for line in lines] == [1, 1]
    assert lines[0].sender_id is not None and lines[1].sender_id is None
    assert await all_reconciled(services, account_id)


async def test_each_wallet_reconciles_on_its_own(services: Services) -> None:
    account_id, safaricom, airtel = await floats_world(services)
    await services.billing.credit(account_id, 3, "float", sender=safaricom)
    await services.billing.credit(account_id, 7, "float", sender=airtel)
    await services.messaging.send(account_id, SendRequest(SAFARICOM, "one", "DUKALETU"))
    await services.messaging.send(account_id, SendRequest(AIRTEL, "two", "DUKALETU"))
    wallets = await services.billing.reconcile_wallets(account_id)
    assert [(w.asset, w.sender and w.sender.carrier, w.balance, w.debited) for w in wallets] == [
        ("units", None, 100, 0),
        ("KES", None, 0, 0),
        ("units", "airtel", 6, 1),
        ("units", "safaricom", 2, 1),
    ]
    assert all(w.ok for w in wallets)
    total = await services.billing.reconcile(account_id)
    assert total.ok and total.balance == 108 and total.debited == 2 and total.paid_for == 2


async def test_floats_hold_units_of_their_own_account_only(services: Services) -> None:
    account_id, safaricom, _airtel = await floats_world(services)
    other = await services.accounts.create_account("Other")
    with pytest.raises(NotFound):
        await services.billing.credit(other.account_id, 5, sender=safaricom)
    with pytest.raises(InvalidRequest, match="SMS units only"):
        await services.billing.credit(account_id, 5, asset="KES", sender=safaricom)


async def test_concurrent_sends_never_overdraw_a_small_float(services: Services) -> None:
    account_id, safaricom, _airtel = await floats_world(services)
    await services.billing.credit(account_id, 20, "float", sender=safaricom)
    results = await asyncio.gather(
        *(
            services.messaging.send(account_id, SendRequest(SAFARICOM, f"m{i}", "DUKALETU"))
            for i in range(120)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if isinstance(r, MessageView)]
    refused = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(accepted) == 20 and len(refused) == 100
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 0}
    assert await services.billing.balance(account_id) == 100  # the team paid nothing
    assert await all_reconciled(services, account_id)


async def test_two_engines_racing_on_one_float_never_overdraw(
    services: Services, database_url: str, settings: Settings
) -> None:
    """Two independent engines (two nodes, or the server and the CLI) on one small float."""
    account_id, safaricom, _airtel = await floats_world(services)
    await services.billing.credit(account_id, 30, "float", sender=safaricom)
    a, b = await race_two_engines(
        services,
        database_url,
        settings,
        account_id,
        lambda i: SendRequest(SAFARICOM, f"m{i}", "DUKALETU"),
        each=40,
    )
    assert all(isinstance(r, MessageView | InsufficientBalance) for r in (*a, *b))
    assert len([r for r in (*a, *b) if isinstance(r, MessageView)]) == 30
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 0}
    assert await services.billing.balance(account_id) == 100
    assert await all_reconciled(services, account_id)


class PaysAtOnce:
    """An M-Pesa stand-in: every push is accepted; the test answers with the callback."""

    def __init__(self) -> None:
        self.pushes: list[StkPush] = []

    async def stk_push(self, push: StkPush) -> StkAccepted:
        self.pushes.append(push)
        return StkAccepted("m-1", f"ws_CO_{len(self.pushes)}")

    async def stk_query(self, checkout_request_id: str) -> StkOutcome | None:
        return None


async def test_top_ups_fill_the_float_they_name(services: Services, db: Database) -> None:
    account_id, safaricom, airtel = await floats_world(services)
    gateway = PaysAtOnce()
    topups = TopupService(db, gateway, callback_base=lambda: "https://sms.example")
    owner = Caller(account_id, None, frozenset(), user_id=None, role="owner")
    bulk = await services.pricing.create_package(None, "safaricom", "Bulk", "0.50")

    # by UUID, paid by M-Pesa: the Safaricom registration's float, not the team wallet
    made = await topups.buy(
        owner, package=bulk.uuid, units=40, method="mpesa", phone="0712345678", sender=safaricom
    )
    assert made.sender_uuid == safaricom and made.sender_name == "DUKALETU"
    push = gateway.pushes[-1]
    key = parse_qs(urlsplit(push.callback_url).query)["key"][0]
    paid = StkOutcome("ws_CO_1", 0, "ok", amount=push.amount, receipt="RCP1")
    await topups.settle(paid, callback_key=key)
    await topups.settle(paid, callback_key=key)  # repeated: credited once
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 40}
    assert await services.billing.balance(account_id) == 100

    # by name, offline: the name's registration on the package's carrier
    offline = await topups.buy(
        owner, package=bulk.uuid, units=10, method="offline", reference="BANK-1", sender="DUKALETU"
    )
    assert offline.sender_uuid == safaricom
    await topups.review(None, offline.uuid, approve=True)
    assert units_of(await services.billing.floats(account_id)) == {"safaricom": 50}

    # a Safaricom package for the Airtel registration: refused, nothing made
    for wrong in (airtel, "NOSUCH"):
        with pytest.raises(InvalidRequest) as refused:
            await topups.buy(
                owner, package=bulk.uuid, units=10, method="offline", reference="B", sender=wrong
            )
        assert ("registered on airtel" if wrong == airtel else "not registered") in str(
            refused.value
        )
    assert len((await topups.list_topups(owner))[0]) == 2
    assert (await topups.reconcile(account_id)).ok
    assert await all_reconciled(services, account_id)
