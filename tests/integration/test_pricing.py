"""Pricing per account: per carrier segment (the default) or the Kimisms table, charged by
the same ledger debit; packages kept by the operator (service and CLI)."""

from __future__ import annotations

import asyncio

import pytest

from jumbe.core.pricing import Pricing
from jumbe.services import Services
from jumbe.services.errors import Conflict, InvalidRequest, MessageTooLong
from jumbe.services.messaging import SendRequest

NUMBER = "+254712345678"
EMOJI = "Habari 👋 " + "x" * 100  # 110 characters: two UCS-2 segments


async def test_each_account_is_charged_by_its_own_rule(services: Services) -> None:
    segments = await services.accounts.create_account("Per Segment")
    kimisms = await services.accounts.create_account("Per Character")
    assert await services.pricing.pricing(segments.account_id) is Pricing.SEGMENTS
    assert await services.pricing.set_pricing(kimisms.account_id, "kimisms") is Pricing.KIMISMS
    for account in (segments, kimisms):
        await services.billing.credit(account.account_id, 100)

    async def charged(account_id: int, text: str) -> tuple[int, int]:
        sent = await services.messaging.send(account_id, SendRequest(NUMBER, text))
        return sent.units, sent.parts

    assert await charged(segments.account_id, EMOJI) == (2, 2)
    assert await charged(kimisms.account_id, EMOJI) == (1, 2)  # units, not segments
    assert await charged(kimisms.account_id, "x" * 161) == (2, 2)
    assert await charged(kimisms.account_id, "x" * 960) == (6, 7)
    assert await services.billing.balance(segments.account_id) == 98
    assert await services.billing.balance(kimisms.account_id) == 100 - 1 - 2 - 6
    for account in (segments, kimisms):
        assert (await services.billing.reconcile(account.account_id)).ok


async def test_portal_and_campaign_sends_stop_at_960_characters(services: Services) -> None:
    account = await services.accounts.create_account("Acme")
    await services.pricing.set_pricing(account.account_id, "kimisms")
    await services.billing.credit(account.account_id, 100)
    for source in ("portal", "campaign"):
        with pytest.raises(MessageTooLong, match="960"):
            await services.messaging.send(
                account.account_id, SendRequest(NUMBER, "x" * 961, source=source)
            )
    with pytest.raises(InvalidRequest, match="segments, kimisms"):
        await services.pricing.set_pricing(account.account_id, "per-word")


async def test_concurrent_kimisms_sends_never_overdraw(services: Services) -> None:
    account = await services.accounts.create_account("Acme")
    await services.pricing.set_pricing(account.account_id, "kimisms")
    await services.billing.credit(account.account_id, 50)
    results = await asyncio.gather(
        *(
            services.messaging.send(account.account_id, SendRequest(NUMBER, "y" * 300))
            for _ in range(40)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, Exception)) == 25
    assert await services.billing.balance(account.account_id) == 0
    assert (await services.billing.reconcile(account.account_id)).ok


async def test_packages(services: Services) -> None:
    made = await services.pricing.create_package(None, "Safaricom", " Bulk  1k ", "0.80")
    assert (made.carrier, made.name, made.rate_cents, made.active) == (
        "safaricom",
        "Bulk 1k",
        80,
        True,
    )
    with pytest.raises(Conflict):
        await services.pricing.create_package(None, "safaricom", "Bulk 1k", "0.50")
    for rate in ("0", "-1", "0.005", "abc", "1000.01"):
        with pytest.raises(InvalidRequest):
            await services.pricing.create_package(None, "airtel", "x", rate)
    await services.pricing.create_package(None, "airtel", "Standard", "0.65", min_units=100)
    assert [p.carrier for p in await services.pricing.list_packages()] == ["airtel", "safaricom"]
    changed = await services.pricing.change_package(None, made.uuid, rate_kes="0.75", active=False)
    assert (changed.rate_cents, changed.active) == (75, False)
    assert [p.name for p in await services.pricing.list_packages()] == ["Standard"]
    assert len(await services.pricing.list_packages(active_only=False)) == 2
    assert (await services.pricing.find_package("safaricom/Bulk 1k")).uuid == made.uuid
