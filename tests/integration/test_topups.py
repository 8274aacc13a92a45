"""Top-ups against a real server and its embedded M-Pesa simulator, over real HTTP.

Success, cancellation (1032), timeout (1037), a silent M-Pesa found out by the
query, repeated and forged callbacks, callbacks racing queries (one credit),
offline top-ups reviewed by staff, packages and pricing from the staff API and
the command line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from jumbe.app import Jumbe
from jumbe.settings import Settings
from jumbe.simulators.mpesa import Outcome, SimulatedPayment, callback_body
from jumbe.store.schema import ledger_entries
from tests.conftest import running, wait_until
from tests.integration.signup_helpers import bearer, http, signed_up
from tests.integration.test_staff import cli, staff_session
from tests.integration.test_team import invited

OWNER = "owner@duka.co.ke"
PHONE = "0712 345 678"


# The simulated customer answers at once; late payments are asked about after half a second.
QUICK_MPESA: dict[str, Any] = {
    "mpesa_simulator_delay": 0.1,
    "mpesa_query_after": 0.5,
    "mpesa_query_every": 0.3,
    "mpesa_worker_interval": 0.1,
}


@pytest.fixture
async def jumbe(settings: Settings) -> AsyncIterator[Jumbe]:
    async with running(settings, **QUICK_MPESA) as app:
        yield app


async def package(jumbe: Jumbe, rate: str = "0.80", carrier: str = "safaricom") -> str:
    made = await jumbe.services.pricing.create_package(None, carrier, f"Bulk {rate}", rate)
    return made.uuid


async def buy(
    c: httpx.AsyncClient, session: str, offer: str, units: int = 1000, **extra: Any
) -> httpx.Response:
    body = {"package_id": offer, "units": units, "method": "mpesa", "phone": PHONE, **extra}
    return await c.post("/api/v1/billing/topups", headers=bearer(session), json=body)


async def settled(c: httpx.AsyncClient, session: str, topup: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        data = (await c.get(f"/api/v1/billing/topups/{topup}", headers=bearer(session))).json()
        return data["data"] if data["data"]["status"] != "PENDING" else None

    return await wait_until(done, what=f"top-up {topup} to settle")


async def units(c: httpx.AsyncClient, session: str) -> int:
    answer = await c.get("/api/v1/billing/balance", headers=bearer(session))
    return int(answer.json()["data"]["units"])


def payment_of(jumbe: Jumbe, checkout: str) -> SimulatedPayment:
    assert jumbe.mpesa_simulator is not None
    return jumbe.mpesa_simulator.payments[checkout]


async def credits(jumbe: Jumbe, account_id: int) -> list[int]:
    query = select(ledger_entries.c.units).where(
        ledger_entries.c.account_id == account_id, ledger_entries.c.kind == "credit"
    )
    return list(await jumbe.db.read(lambda conn: conn.execute(query).scalars().all()))


async def test_a_paid_stk_push_credits_the_team_wallet_once(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        offered = await package(jumbe)
        listed = await c.get("/api/v1/billing/packages", headers=bearer(owner))
        assert listed.json()["data"] == [
            {
                "id": offered,
                "carrier": "safaricom",
                "name": "Bulk 0.80",
                "rate_kes": "0.80",
                "min_units": 1,
                "active": True,
            }
        ]
        started = await buy(c, owner, offered, units=999)
        assert started.status_code == 200, started.text
        topup = started.json()["data"]
        assert topup["status"] == "PENDING"
        assert topup["amount_kes"] == "800.00"  # 999 x 0.80 = 799.20, M-Pesa takes whole KES
        assert topup["phone"] == "254712345678" and topup["wallet"] == "team"
        assert topup["checkout_request_id"].startswith("ws_CO_")

        done = await settled(c, owner, topup["id"])
        assert done["status"] == "COMPLETED", done
        assert done["mpesa_receipt"] and done["mpesa_receipt"] in done["description"]
        assert await units(c, owner) == 999
        paid = payment_of(jumbe, topup["checkout_request_id"])
        assert paid.amount == 800 and paid.phone == "254712345678"

        # Daraja repeats a callback it is not sure we got: nothing more is credited
        for answer in await asyncio.gather(
            *(c.post(paid.callback_url, json=paid.callbacks[0]) for _ in range(10))
        ):
            assert answer.status_code == 200
            assert answer.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
        assert await units(c, owner) == 999

        mine = (await c.get("/api/v1/billing/topups", headers=bearer(owner))).json()["data"]
        assert [t["id"] for t in mine["items"]] == [topup["id"]] and mine["total"] == 1
        account = (await jumbe.services.sessions.authenticate(owner)).account_id
        assert await credits(jumbe, account) == [999]
        balance = await asyncio.to_thread(cli, jumbe, "accounts", "balance", str(account))
        assert balance.exit_code == 0, balance.output
        assert "top-ups: 1 completed for 999 units; ledger credits for them 999" in balance.stdout
        assert "reconciled: yes" in balance.stdout


@pytest.mark.parametrize(
    ("outcome", "words"),
    [("cancel", "cancelled on the phone (1032)"), ("timeout", "did not answer in time (1037)")],
)
async def test_cancelled_and_timed_out_payments_credit_nothing(
    jumbe: Jumbe, outcome: str, words: str
) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        offered = await package(jumbe)
        chosen = await asyncio.to_thread(cli, jumbe, "simulate", "mpesa", "--next", outcome)
        assert chosen.exit_code == 0, chosen.output
        assert f"next STK push outcomes, in order: {outcome}" in chosen.stdout
        topup = (await buy(c, owner, offered)).json()["data"]
        done = await settled(c, owner, topup["id"])
        assert done["status"] == "FAILED" and words in done["description"], done
        assert done["mpesa_receipt"] is None
        assert await units(c, owner) == 0
        # the simulator's later query answer, or a replayed callback, changes nothing
        await jumbe.services.topups.query_due()
        paid = payment_of(jumbe, topup["checkout_request_id"])
        await c.post(paid.callback_url, json=paid.callbacks[0])
        assert (await settled(c, owner, topup["id"]))["status"] == "FAILED"


async def test_a_silent_mpesa_is_found_out_by_the_query(jumbe: Jumbe) -> None:
    assert jumbe.mpesa_simulator is not None
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        jumbe.mpesa_simulator.choose(Outcome.SILENT)
        topup = (await buy(c, owner, await package(jumbe), units=50)).json()["data"]
        done = await settled(c, owner, topup["id"])
        assert done["status"] == "COMPLETED" and done["description"] == "paid by M-Pesa", done
        assert payment_of(jumbe, topup["checkout_request_id"]).callbacks == []  # none came
        assert await units(c, owner) == 50


async def test_forged_callbacks_are_ignored_and_the_real_one_credits_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """No query within the test: only callbacks can settle the payment."""
    caplog.set_level(logging.INFO, logger="jumbe.access")
    async with (
        running(settings, mpesa_simulator_delay=0.05, mpesa_query_after=3600) as jumbe,
        http(jumbe) as c,
    ):
        assert jumbe.mpesa_simulator is not None
        owner = await signed_up(jumbe, c, OWNER)
        jumbe.mpesa_simulator.choose(Outcome.SILENT)
        topup = (await buy(c, owner, await package(jumbe), units=100)).json()["data"]
        paid = payment_of(jumbe, topup["checkout_request_id"])
        await wait_until(lambda: paid.result is not None, what="the customer to pay")
        real = callback_body(paid)
        ack = {"ResultCode": 0, "ResultDesc": "Accepted"}
        base = paid.callback_url.split("?")[0]

        def changed(**fields: Any) -> dict[str, Any]:
            body = callback_body(paid)
            body["Body"]["stkCallback"].update(fields)
            return body

        cheaper = callback_body(paid)
        cheaper["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"] = 1.0
        forgeries = [
            (f"{base}?key=not-the-secret", real),  # the right payment, at the wrong URL
            (base, real),  # no key at all
            (paid.callback_url, cheaper),  # the right URL, a smaller amount
            (paid.callback_url, changed(CheckoutRequestID="ws_CO_000000000000")),  # unknown
            (paid.callback_url, changed(CallbackMetadata={"Item": []})),  # no receipt, no amount
        ]
        for url, body in forgeries:
            answer = await c.post(url, json=body)
            assert (answer.status_code, answer.json()) == (200, ack), url
        for junk in (b"{", b"[]", b'{"Body": {"stkCallback": {"ResultCode": 0}}}'):
            answer = await c.post(paid.callback_url, content=junk)
            assert answer.status_code == 400
            assert answer.json() == {"ResultCode": 1, "ResultDesc": "Rejected: not an stkCallback"}
        huge = await c.post(paid.callback_url, content=b"{" + b" " * 20_000 + b"}")
        assert huge.status_code == 413 and huge.json()["ResultCode"] == 1
        state = (await c.get(f"/api/v1/billing/topups/{topup['id']}", headers=bearer(owner))).json()
        assert state["data"]["status"] == "PENDING"
        assert await units(c, owner) == 0

        # the genuine callback, fifty times at once: one credit
        answers = await asyncio.gather(*(c.post(paid.callback_url, json=real) for _ in range(50)))
        assert {(a.status_code, a.json()["ResultCode"]) for a in answers} == {(200, 0)}
        assert (await settled(c, owner, topup["id"]))["status"] == "COMPLETED"
        assert await units(c, owner) == 100
        account = (await jumbe.services.sessions.authenticate(owner)).account_id
        assert await credits(jumbe, account) == [100]

        # the same receipt claimed for another payment is a forgery too
        jumbe.mpesa_simulator.choose(Outcome.SILENT)
        second = (await buy(c, owner, await package(jumbe, "0.50"), units=100)).json()["data"]
        other = payment_of(jumbe, second["checkout_request_id"])
        await wait_until(lambda: other.result is not None, what="the customer to pay")
        other.receipt = paid.receipt
        assert (await c.post(other.callback_url, json=callback_body(other))).json() == ack
        assert await units(c, owner) == 100

        # the URL's secret is a credential: the access log masks it
        assert "/api/v1/payments/callback?key=***" in caplog.text
        for url in (paid.callback_url, other.callback_url):
            assert url.split("key=")[1] not in caplog.text


async def test_callbacks_racing_queries_credit_exactly_once(settings: Settings) -> None:
    async with (
        running(settings, mpesa_simulator_delay=0.05, mpesa_query_after=3600) as jumbe,
        http(jumbe) as c,
    ):
        assert jumbe.mpesa_simulator is not None
        owner = await signed_up(jumbe, c, OWNER)
        offered = await package(jumbe)
        topups = []
        for _ in range(3):
            jumbe.mpesa_simulator.choose(Outcome.SILENT)
            topups.append((await buy(c, owner, offered, units=10)).json()["data"])
        # three prompts waiting: no more until they are done (nobody floods a phone)
        flood = await buy(c, owner, offered, units=10)
        assert flood.status_code == 429 and "still waiting" in flood.json()["error"]
        assert flood.headers["Retry-After"] == "30"
        payments = [payment_of(jumbe, t["checkout_request_id"]) for t in topups]
        await wait_until(lambda: all(p.result for p in payments), what="the customers to pay")

        async def query_now() -> int:
            await jumbe.db.write(
                lambda conn: conn.exec_driver_sql("UPDATE topups SET query_at = created_at")
            )
            return await jumbe.services.topups.query_due()

        await asyncio.gather(
            *(c.post(p.callback_url, json=callback_body(p)) for p in payments for _ in range(10)),
            *(query_now() for _ in range(5)),
        )
        for t in topups:
            assert (await settled(c, owner, t["id"]))["status"] == "COMPLETED"
        assert await units(c, owner) == 30
        account = (await jumbe.services.sessions.authenticate(owner)).account_id
        assert await credits(jumbe, account) == [10] * 3
        assert (await buy(c, owner, offered, units=10)).status_code == 200  # done: free again
        assert (await jumbe.services.topups.reconcile(account)).ok
        assert (await jumbe.services.billing.reconcile(account)).ok


async def test_offline_top_ups_wait_for_staff(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        staff = await staff_session(jumbe, c)
        made = await c.post(
            "/api/v1/staff/packages",
            headers=bearer(staff),
            json={"carrier": "Airtel", "name": "Standard", "rate": "0.65", "min_units": 100},
        )
        assert made.status_code == 200, made.text
        offered = made.json()["data"]["id"]
        too_few = await buy(c, owner, offered, units=99, method="offline", reference="EQ123")
        assert too_few.status_code == 400 and "at least 100 units" in too_few.json()["error"]
        no_ref = await buy(c, owner, offered, units=200, method="offline")
        assert no_ref.status_code == 400
        asked = [
            (await buy(c, owner, offered, units=200, method="offline", reference=ref)).json()[
                "data"
            ]
            for ref in ("EQ-TRANSFER-1", "EQ-TRANSFER-2")
        ]
        assert {t["status"] for t in asked} == {"PENDING"}
        assert asked[0]["amount_kes"] == "130.00" and asked[0]["checkout_request_id"] is None

        waiting = await c.get(
            "/api/v1/staff/topups", headers=bearer(staff), params={"status": "pending"}
        )
        assert {t["id"] for t in waiting.json()["data"]["items"]} == {t["id"] for t in asked}
        # a customer is not staff
        refused = await c.post(
            f"/api/v1/staff/topups/{asked[0]['id']}/approve", headers=bearer(owner)
        )
        assert refused.status_code == 401
        approved = await c.post(
            f"/api/v1/staff/topups/{asked[0]['id']}/approve", headers=bearer(staff)
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["data"]["status"] == "COMPLETED"
        assert approved.json()["data"]["reviewed_by"] == "ops@jumbe-operator.co.ke"
        twice = await c.post(
            f"/api/v1/staff/topups/{asked[0]['id']}/approve", headers=bearer(staff)
        )
        assert twice.status_code == 409
        no_reason = await c.post(
            f"/api/v1/staff/topups/{asked[1]['id']}/reject", headers=bearer(staff), json={}
        )
        assert no_reason.status_code == 400
        rejected = await asyncio.to_thread(
            cli, jumbe, "topups", "reject", asked[1]["id"], "--reason", "no transfer arrived"
        )
        assert rejected.exit_code == 0, rejected.output
        assert "FAILED" in rejected.stdout and "no transfer arrived" in rejected.stdout
        assert await units(c, owner) == 200
        listed = await asyncio.to_thread(cli, jumbe, "topups", "list")
        assert listed.exit_code == 0 and "EQ-TRANSFER-2" in listed.stdout

        # M-Pesa top-ups are not staff's to decide
        mpesa = (await buy(c, owner, offered, units=100)).json()["data"]
        not_theirs = await c.post(
            f"/api/v1/staff/topups/{mpesa['id']}/approve", headers=bearer(staff)
        )
        assert not_theirs.status_code == 409


async def test_who_may_buy(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        offered = await package(jumbe)
        member = await invited(jumbe, c, owner, "member@duka.co.ke", "member")
        forbidden = await buy(c, member, offered)
        assert forbidden.status_code == 403 and "top-ups" in forbidden.json()["error"]
        assert (await c.get("/api/v1/billing/topups", headers=bearer(member))).status_code == 200
        token = await buy(c, jumbe.demo.api_token, offered)
        assert token.status_code == 401
        for bad, why in (
            ({"phone": "12345"}, "phone"),
            ({"phone": None}, "phone is required"),
            ({"units": 400_000_000 // 80}, "M-Pesa payment moves at most"),
            ({"sender_id": "MYSENDER"}, "not registered for this account"),
            ({"package_id": "00000000-0000-0000-0000-000000000000"}, "Package not found"),
        ):
            answer = await buy(c, owner, offered, **bad)
            assert answer.status_code in (400, 404) and why in answer.json()["error"], answer.text
        # another account sees none of this one's top-ups
        mine = (await buy(c, owner, offered, units=5)).json()["data"]
        other = await signed_up(jumbe, c, "owner@other.co.ke", organisation="Other Ltd")
        assert (
            await c.get(f"/api/v1/billing/topups/{mine['id']}", headers=bearer(other))
        ).status_code == 404


async def test_pricing_and_packages_from_staff_and_the_command_line(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        staff = await staff_session(jumbe, c)
        account = (await jumbe.services.sessions.authenticate(owner)).account_id
        changed = await c.put(
            f"/api/v1/staff/accounts/{account}/pricing",
            headers=bearer(staff),
            json={"pricing": "kimisms"},
        )
        assert changed.json()["data"] == {"account_id": account, "pricing": "kimisms"}
        balance = (await c.get("/api/v1/billing/balance", headers=bearer(owner))).json()
        assert balance["data"] == {"units": 0, "pricing": "kimisms", "senders": []}
        shown = await asyncio.to_thread(cli, jumbe, "accounts", "pricing", str(account))
        assert shown.stdout.strip() == "pricing: kimisms"
        back = await asyncio.to_thread(cli, jumbe, "accounts", "pricing", str(account), "segments")
        assert back.stdout.strip() == "pricing: segments"

        added = await asyncio.to_thread(
            cli, jumbe, "packages", "add", "telkom", "Starter", "--rate", "0.90"
        )
        assert added.exit_code == 0 and "telkom/Starter  KES 0.90 per unit" in added.stdout
        withdrawn = await asyncio.to_thread(
            cli, jumbe, "packages", "set", "telkom/Starter", "--inactive", "--rate", "0.85"
        )
        assert "KES 0.85 per unit, at least 1 units  (withdrawn)" in withdrawn.stdout
        everything = (await c.get("/api/v1/staff/packages", headers=bearer(staff))).json()
        assert [p["active"] for p in everything["data"]] == [False]
        offered = (await c.get("/api/v1/billing/packages", headers=bearer(owner))).json()
        assert offered["data"] == []
        package_id = everything["data"][0]["id"]
        again = await c.patch(
            f"/api/v1/staff/packages/{package_id}", headers=bearer(staff), json={"active": True}
        )
        assert again.json()["data"]["active"] is True
        duplicate = await asyncio.to_thread(
            cli, jumbe, "packages", "add", "telkom", "Starter", "--rate", "1"
        )
        assert duplicate.exit_code == 2 and "already has a package" in duplicate.output


async def test_one_oauth_token_serves_many_pushes_and_a_refusal_fails_the_top_up(
    jumbe: Jumbe,
) -> None:
    assert jumbe.mpesa_simulator is not None
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        offered = await package(jumbe)
        made = [(await buy(c, owner, offered, units=10)).json()["data"] for _ in range(3)]
        assert all(t["checkout_request_id"] for t in made)
        assert len(jumbe.mpesa_simulator._tokens) == 1  # fetched once, kept
        for t in made:
            assert (await settled(c, owner, t["id"]))["status"] == "COMPLETED"

        jumbe.daraja._token = None  # as if it had expired
        jumbe.daraja.consumer_secret = "not-the-secret"
        refused = (await buy(c, owner, offered, units=10)).json()["data"]
        assert refused["status"] == "FAILED"
        assert refused["description"] == "M-Pesa refused: OAuth refused (HTTP 400)"
        assert refused["checkout_request_id"] is None
        assert await units(c, owner) == 30


async def test_a_configured_daraja_endpoint_is_used_instead_of_the_simulator(
    settings: Settings, tmp_path: Any
) -> None:
    """Server B's simulator stands in for Safaricom; server A is configured for it with
    JUMBE_MPESA_* as it would be for Daraja, and runs no simulator of its own."""
    async with running(settings, mpesa_simulator_delay=0.05) as daraja:
        safaricom = daraja.mpesa_simulator
        assert safaricom is not None
        other = settings.model_copy(
            update={
                "data_dir": tmp_path / "a",
                "database_url": f"sqlite:///{tmp_path / 'a.db'}",
                "mpesa_base_url": daraja.local_url + "/simulator/mpesa",
                "mpesa_consumer_key": safaricom.consumer_key,
                "mpesa_consumer_secret": safaricom.consumer_secret,
                "mpesa_passkey": safaricom.passkey,
                "mpesa_shortcode": safaricom.shortcode,
            }
        )
        async with running(other) as jumbe, http(jumbe) as c:
            assert jumbe.mpesa_simulator is None
            assert (
                await c.post("/simulator/mpesa/next", json={"outcome": "cancel"})
            ).status_code == 404
            owner = await signed_up(jumbe, c, OWNER)
            topup = (await buy(c, owner, await package(jumbe), units=20)).json()["data"]
            assert topup["checkout_request_id"] in safaricom.payments
            assert safaricom.payments[topup["checkout_request_id"]].callback_url.startswith(
                jumbe.local_url + "/api/v1/payments/callback?key="
            )
            assert (await settled(c, owner, topup["id"]))["status"] == "COMPLETED"
            assert await units(c, owner) == 20
