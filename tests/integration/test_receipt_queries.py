"""A message whose receipt never comes is asked about with query_sm, and the answer recorded
as the receipt would have been."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from jumbe.app import Jumbe
from jumbe.services import Services
from jumbe.services.delivery import SubmitOutcome
from jumbe.services.messaging import SendRequest
from jumbe.settings import Settings
from jumbe.simulators.carrier import CarrierBehaviour
from jumbe.store.database import Database
from jumbe.store.receipt_queries import claim_awaited
from jumbe.store.schema import message_parts, messages
from tests.conftest import wait_until

QUERY_AFTER = 0.5


@pytest.fixture
async def forgetful(settings: Settings) -> AsyncIterator[Jumbe]:
    """A server whose carrier loses receipts to numbers ending in 5 (and fails those in 95)."""
    app = Jumbe(
        settings.model_copy(
            update={"receipt_query_after": QUERY_AFTER, "dispatch_poll_interval": 0.2}
        )
    )
    await app.start()
    assert app.simulator is not None
    app.simulator.behaviour = CarrierBehaviour(
        receipt_delay=0.1,
        lost_receipt_suffixes=("5",),
        undeliverable_suffixes=("95",),
        silent_suffixes=("77",),
    )
    await wait_until(lambda: any(c.ready for c in app.connectors.values()), what="a bind")
    yield app
    await app.stop()


async def test_lost_receipts_are_asked_for_and_recorded_like_receipts(forgetful: Jumbe) -> None:
    assert forgetful.demo is not None and forgetful.receipt_queries is not None
    headers = {"Authorization": f"Bearer {forgetful.demo.api_token}"}
    async with httpx.AsyncClient(base_url=forgetful.base_url, headers=headers) as api:
        uuids = {}
        for to in ("0712345655", "0712345695", "0712345677", "0712345600"):
            answer = await api.post("/api/v1/messages", json={"to": to, "message": "Habari"})
            uuids[to] = answer.json()["data"]["uuid"]

        async def state(to: str) -> str:
            return str((await api.get(f"/api/v1/messages/{uuids[to]}")).json()["data"]["state"])

        await wait_until(lambda: _is(state("0712345600"), "delivered"), what="the receipt")
        assert {await state(to) for to in ("0712345655", "0712345695", "0712345677")} == {"sent"}

        await asyncio.sleep(QUERY_AFTER)
        assert await forgetful.receipt_queries.ask() == 3  # not the one with its receipt
        delivered = (await api.get(f"/api/v1/messages/{uuids['0712345655']}")).json()["data"]
        failed = (await api.get(f"/api/v1/messages/{uuids['0712345695']}")).json()["data"]
        assert (delivered["state"], delivered["history"][-1]["description"]) == (
            "delivered",
            "delivered to the handset",
        )
        assert (failed["state"], failed["error_code"]) == ("failed", "001")
        # the carrier has no final word on the silent one yet: asked again later, not now
        assert await state("0712345677") == "sent"
        assert await forgetful.receipt_queries.ask() == 0


async def _is(value: object, wanted: str) -> bool:
    return await value == wanted  # type: ignore[misc]


async def test_claims_space_questions_out_and_drop_what_is_final(
    services: Services, db: Database
) -> None:
    account = (await services.accounts.create_account("Acme")).account_id
    await services.billing.credit(account, 10)
    sent = [
        await services.messaging.send(account, SendRequest("+254712345678", f"m{n}"))
        for n in range(3)
    ]
    await services.delivery.record(
        [SubmitOutcome(m.id, "c1", ((1, f"carrier-{m.id}"),), complete=True, parts=1) for m in sent]
    )
    submitted = datetime.now(UTC) - timedelta(hours=1)
    await db.write(
        lambda conn: conn.execute(
            update(message_parts).values(submitted_at=submitted, query_at=submitted)
        )
    )
    # one expired meanwhile: nobody needs its receipt any more
    await db.write(
        lambda conn: conn.execute(
            update(messages).where(messages.c.id == sent[2].id).values(status="expired")
        )
    )

    def claim(connectors: list[str], limit: int = 10) -> object:
        return db.write(
            lambda conn: claim_awaited(
                conn,
                connectors=connectors,
                now=datetime.now(UTC),
                limit=limit,
                skip_locked=not db.is_sqlite,
            )
        )

    assert await claim(["other"]) == []  # only parts of the connectors asked for
    first = await claim(["c1"], limit=1)
    second = await claim(["c1"])
    assert [p.message_id for p in first + second] == [sent[0].id, sent[1].id]  # type: ignore[operator]
    assert first[0].carrier_message_id == f"carrier-{sent[0].id}"  # type: ignore[index]
    assert await claim(["c1"]) == []  # each asked once, none twice
    rows = await db.read(
        lambda conn: conn.execute(
            select(message_parts.c.message_id, message_parts.c.query_at).order_by(
                message_parts.c.message_id
            )
        ).all()
    )
    nexts = {r.message_id: r.query_at for r in rows}
    # asked again after as long again as it has waited (an hour), and the expired one never
    assert nexts[sent[0].id] - datetime.now(UTC) > timedelta(minutes=59)
    assert nexts[sent[2].id] is None
