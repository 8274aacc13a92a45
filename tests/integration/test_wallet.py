"""Wallets and the ledger, on real databases, under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from jumbe.services import Services
from jumbe.services.errors import InsufficientBalance, InvalidRequest
from jumbe.services.messaging import SendRequest
from jumbe.services.views import MessageView
from jumbe.settings import Settings
from jumbe.store.database import Database
from jumbe.store.schema import ledger_entries, messages

NUMBER = "+254712345678"


async def test_credit_and_balance_follow_the_ledger(services: Services) -> None:
    account = await services.accounts.create_account("Acme")
    assert await services.billing.balance(account.account_id) == 0
    assert await services.billing.credit(account.account_id, 100) == 100
    assert await services.billing.credit(account.account_id, 5) == 105
    lines = await services.billing.ledger(account.account_id)
    assert [line.units for line in lines] == [5, 100]
    assert (await services.billing.reconcile(account.account_id)).ok


async def test_credit_rejects_nonsense(services: Services) -> None:
    account = await services.accounts.create_account("Acme")
    for units in (0, -5, 10**13):
        with pytest.raises(InvalidRequest):
            await services.billing.credit(account.account_id, units)
    assert await services.billing.balance(account.account_id) == 0


async def test_send_debits_units_in_the_same_transaction(services: Services, db: Database) -> None:
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 10)
    long_text = "x" * 161  # two GSM-7 parts: two units
    sent = await services.messaging.send(account.account_id, SendRequest(NUMBER, long_text))
    assert sent.units == 2
    assert await services.billing.balance(account.account_id) == 8

    def work(conn: Connection) -> Any:
        debit = (conn.execute(select(ledger_entries).where(ledger_entries.c.kind == "debit"))).one()
        row = (conn.execute(select(messages).where(messages.c.uuid == sent.uuid))).one()
        return debit, row

    debit, row = await db.read(work)
    assert debit.units == -2 and debit.message_count == 1
    assert row.ledger_entry_id == debit.id
    assert (await services.billing.reconcile(account.account_id)).ok


async def test_insufficient_balance_stores_nothing(services: Services, db: Database) -> None:
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 1)
    with pytest.raises(InsufficientBalance):
        await services.messaging.send(account.account_id, SendRequest(NUMBER, "y" * 200))
    count = await db.read(
        lambda conn: (conn.execute(select(func.count()).select_from(messages))).scalar_one()
    )
    assert count == 0
    assert await services.billing.balance(account.account_id) == 1


async def test_concurrent_sends_never_overdraw(services: Services) -> None:
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 50)
    results = await asyncio.gather(
        *(
            services.messaging.send(account.account_id, SendRequest(NUMBER, f"hello {i}"))
            for i in range(200)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if isinstance(r, MessageView)]
    refused = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(accepted) == 50 and len(refused) == 150
    assert await services.billing.balance(account.account_id) == 0
    assert (await services.billing.reconcile(account.account_id)).ok


async def race_two_engines(
    services: Services,
    database_url: str,
    settings: Settings,
    account_id: int,
    request: Callable[[int], SendRequest],
    each: int = 50,
) -> tuple[list[object], list[object]]:
    """``each`` sends from ``services`` and as many from a second, independent engine (as
    another node or the CLI would have) at the same moment: each side's results."""
    other_db = Database(database_url)
    other = Services.build(other_db, settings)
    await other.numbering.refresh(force=True)
    other.messaging.start()
    try:

        async def burst(s: Services) -> list[object]:
            return await asyncio.gather(
                *(s.messaging.send(account_id, request(i)) for i in range(each)),
                return_exceptions=True,
            )

        a, b = await asyncio.gather(burst(services), burst(other))
    finally:
        await other.messaging.stop()
        await other_db.dispose()
    return a, b


async def test_two_processes_worth_of_writers_never_overdraw(
    services: Services, database_url: str, settings: Settings
) -> None:
    """Two independent engines (as the server and the CLI would have) race on one wallet."""
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 60)
    a, b = await race_two_engines(
        services, database_url, settings, account.account_id, lambda i: SendRequest(NUMBER, f"m{i}")
    )
    accepted = [r for r in (*a, *b) if isinstance(r, MessageView)]
    assert all(isinstance(r, MessageView | InsufficientBalance) for r in (*a, *b))
    assert len(accepted) == 60
    assert await services.billing.balance(account.account_id) == 0
    assert (await services.billing.reconcile(account.account_id)).ok


async def test_bulk_send_is_per_message(services: Services) -> None:
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 3)
    results = await services.messaging.send_many(
        account.account_id,
        [
            SendRequest(NUMBER, "one"),
            SendRequest("not a number", "two"),
            SendRequest("0722000000", "three"),
            SendRequest("0733000000", "four"),
            SendRequest("0711000000", "five"),
        ],
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "MessageView",
        "InvalidRecipient",
        "MessageView",
        "MessageView",
        "InsufficientBalance",
    ]
    assert await services.billing.balance(account.account_id) == 0
    assert (await services.billing.reconcile(account.account_id)).ok
