"""Issue 12's "Done when", end to end against a freshly started server, over real HTTP.

A new customer registers, verifies by the link `jumbe mail list` shows, signs in,
applies for a sender ID on two carriers with KYC files (real PDF and PNG files),
staff approve them, tops up one sender's float through the M-Pesa simulator (a
cancelled and a timed-out payment credit nothing), sends through the Kimisms API
with the document's examples and an Idempotency-Key under 50 concurrent retries
(one message, one charge, from that sender's float), receives Kimisms-shaped
callbacks to DELIVERED, and is refused, in the document's words, a send to
another carrier's number with a single-carrier sender.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from jumbe.app import Jumbe
from jumbe.settings import Settings
from jumbe.store.schema import ledger_entries, messages, sender_ids
from tests.callback_receiver import Receiver
from tests.conftest import running, wait_until
from tests.integration.signup_helpers import (
    LINK,
    STRONG,
    bearer,
    cli,
    http,
    login,
    register,
    staff_session,
)
from tests.integration.test_kimisms import SEND_REQUEST, TOKEN_REQUEST
from tests.integration.test_topups import QUICK_MPESA

EMAIL = "wanjiku@dukaletu.co.ke"
RETRIES = 50
IDEMPOTENCY_KEY = "unique-request-id-12345"  # the document's example


def real_png() -> bytes:
    """A whole 1x1 PNG (signature, IHDR, IDAT, IEND with their CRCs): a scanned letter."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def real_pdf() -> bytes:
    """A whole one-page PDF with its cross-reference table: a certificate."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Jumbe]:
    """Callbacks to a local receiver, retried quickly; M-Pesa answers at once."""
    async with running(
        settings, callbacks_allow_private=True, webhook_retry_base=0.2, **QUICK_MPESA
    ) as app:
        yield app


async def run(jumbe: Jumbe, *args: str) -> str:
    """A `jumbe` command on the server's data dir, as the operator types it."""
    done = await asyncio.to_thread(cli, jumbe, *args)
    assert done.exit_code == 0, done.output
    return str(done.stdout)


async def verification_link(jumbe: Jumbe) -> str:
    """The link in the verification mail, found the operator's way: `jumbe mail list/show`."""
    listed = await run(jumbe, "mail", "list")
    mine = [line for line in listed.splitlines() if EMAIL in line]
    assert mine, listed
    mail_id = mine[0].split()[0]
    shown = await run(jumbe, "mail", "show", mail_id)
    found = LINK.search(shown)
    assert found is not None, shown
    return found.group(0)


async def apply(c: httpx.AsyncClient, session: str, name: str, carrier: str) -> str:
    answer = await c.post(
        "/api/v1/senders/applications",
        headers=bearer(session),
        data={
            "name": name,
            "carrier": carrier,
            "campaign_type": "TRANSACTIONAL",
            "organisation": "Duka Letu Ltd",
            "purpose": "order confirmations and OTPs",
        },
        files={
            "business_registration": ("certificate.pdf", real_pdf(), "application/pdf"),
            "authorisation_letter": ("letter.png", real_png(), "image/png"),
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["status"] == "PENDING"
    return str(answer.json()["data"]["uuid"])


async def approve(c: httpx.AsyncClient, staff: str, application: str) -> None:
    for to in ("PROVIDER", "APPROVED"):
        moved = await c.post(
            f"/api/v1/staff/senders/applications/{application}/review",
            headers=bearer(staff),
            json={"to": to},
        )
        assert moved.status_code == 200, moved.text


async def buy(
    c: httpx.AsyncClient, session: str, package: str, sender: str, **how: str
) -> httpx.Response:
    """200 units of ``package`` for ``sender``'s float: ``how`` says how they are paid."""
    body = {"package_id": package, "units": 200, "sender_id": sender, **how}
    return await c.post("/api/v1/billing/topups", headers=bearer(session), json=body)


async def top_up(
    jumbe: Jumbe, c: httpx.AsyncClient, session: str, package: str, sender: str, outcome: str
) -> dict[str, Any]:
    """A top-up of ``sender``'s float by M-Pesa, the simulator told how it ends; settled."""
    assert outcome in (await run(jumbe, "simulate", "mpesa", "--next", outcome))
    started = await buy(c, session, package, sender, method="mpesa", phone="254712345678")
    assert started.status_code == 200, started.text
    topup = started.json()["data"]
    assert topup["status"] == "PENDING" and topup["sender_id"] == sender

    async def settled() -> dict[str, Any] | None:
        got = await c.get(f"/api/v1/billing/topups/{topup['id']}", headers=bearer(session))
        data: dict[str, Any] = got.json()["data"]
        return data if data["status"] != "PENDING" else None

    return await wait_until(settled, what=f"the {outcome} top-up to settle")


async def balance(c: httpx.AsyncClient, session: str) -> dict[str, Any]:
    answer = await c.get("/api/v1/billing/balance", headers=bearer(session))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


async def test_done_when_of_issue_12(server: Jumbe) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with http(server) as c:
            await customer_journey(server, c, receiver)
    finally:
        await receiver.close()


async def customer_journey(jumbe: Jumbe, c: httpx.AsyncClient, receiver: Receiver) -> None:
    # a new user registers; cannot sign in until verified by the mailed link
    assert (await register(c, EMAIL)).status_code == 200
    assert (await login(c, EMAIL)).status_code == 403
    verified = await c.get(await verification_link(jumbe))
    assert verified.status_code == 200, verified.text
    signed_in = await login(c, EMAIL, STRONG)
    assert signed_in.status_code == 200, signed_in.text
    session = signed_in.json()["data"]["access_token"]
    team_code = signed_in.json()["data"]["user"]["account"]["team_code"]

    # sender IDs: DUKALETU on Safaricom and on Airtel, DUKAOTP on Safaricom only
    applications = [
        await apply(c, session, "DUKALETU", "safaricom"),
        await apply(c, session, "DUKALETU", "airtel"),
        await apply(c, session, "DUKAOTP", "safaricom"),
    ]
    staff = await staff_session(jumbe, c)
    for application in applications:
        await approve(c, staff, application)
    listed = (await c.get("/api/v1/senders", headers=bearer(session))).json()["data"]
    registration = {(s["name"], s["carrier"]): s["uuid"] for s in listed}
    assert set(registration) == {
        ("DUKALETU", "safaricom"),
        ("DUKALETU", "airtel"),
        ("DUKAOTP", "safaricom"),
    }
    assert all(s["status"] == "approved" for s in listed)
    float_of = registration[("DUKALETU", "safaricom")]

    # staff offer a Safaricom package; an Airtel registration cannot take it
    offered = await c.post(
        "/api/v1/staff/packages",
        headers=bearer(staff),
        json={"carrier": "safaricom", "name": "Bulk", "rate": "0.80"},
    )
    assert offered.status_code == 200, offered.text
    package = offered.json()["data"]["id"]
    airtel = registration[("DUKALETU", "airtel")]
    wrong = await buy(c, session, package, airtel, method="offline", reference="BANK-1")
    assert wrong.status_code == 400 and "registered on airtel" in wrong.json()["error"]

    # a cancelled and a timed-out payment credit nothing; a paid one fills the float
    cancelled = await top_up(jumbe, c, session, package, float_of, "cancel")
    assert cancelled["status"] == "FAILED" and "(1032)" in cancelled["description"]
    timed_out = await top_up(jumbe, c, session, package, float_of, "timeout")
    assert timed_out["status"] == "FAILED" and "(1037)" in timed_out["description"]
    assert await balance(c, session) == {"units": 0, "pricing": "segments", "senders": []}
    paid = await top_up(jumbe, c, session, package, float_of, "success")
    assert paid["status"] == "COMPLETED" and paid["mpesa_receipt"], paid
    assert paid["wallet"] == "sender" and paid["sender_name"] == "DUKALETU"
    assert (await balance(c, session))["senders"] == [
        {"sender_id": float_of, "name": "DUKALETU", "carrier": "safaricom", "units": 200}
    ]

    # the Kimisms API: client credentials (the operator issues them: the portal is to come)
    issued = json.loads(await run(jumbe, "accounts", "client-credentials", team_code, "--json"))
    token = await c.post(
        "/api/generate-token",
        json={
            **TOKEN_REQUEST,
            "client_id": issued["oauth_client_id"],
            "client_secret": issued["oauth_client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer" and token.json()["expires_in"] == 900
    headers = {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "Idempotency-Key": IDEMPOTENCY_KEY,
    }
    body = {**SEND_REQUEST, "sender_name": "DUKALETU", "callback_url": receiver.url}
    answers = await asyncio.gather(
        *(c.post("/api/send-sms", json=body, headers=headers) for _ in range(RETRIES))
    )
    assert {a.status_code for a in answers} == {200}, {a.text for a in answers}
    sent = answers[0].json()
    assert {a.json()["message_id"] for a in answers} == {sent["message_id"]}
    assert sent == {
        "message_id": sent["message_id"],
        "contact": "254712345678",
        "status": "INITIATED",
        "description": "Message queued for delivery",
        "provider": "Safaricom",
    }

    # exactly one message and one charge, from that sender's float (the team wallet is empty)
    account_id = (await jumbe.services.sessions.authenticate(session)).account_id
    stored, debits = await jumbe.db.read(
        lambda conn: (
            conn.execute(
                select(func.count())
                .select_from(messages)
                .where(messages.c.account_id == account_id)
            ).scalar_one(),
            conn.execute(
                select(ledger_entries.c.units, sender_ids.c.uuid)
                .select_from(
                    ledger_entries.outerjoin(
                        sender_ids, sender_ids.c.id == ledger_entries.c.sender_id
                    )
                )
                .where(ledger_entries.c.account_id == account_id, ledger_entries.c.kind == "debit")
            ).all(),
        )
    )
    assert stored == 1
    assert [(d.units, d.uuid) for d in debits] == [(-1, float_of)]
    after = await balance(c, session)
    assert after["units"] == 0 and after["senders"][0]["units"] == 199

    # Kimisms-shaped callbacks up to DELIVERED
    def statuses() -> list[str]:
        return [call.json["status"] for call in receiver.accepted()]

    await wait_until(lambda: "DELIVERED" in statuses(), what="a DELIVERED callback")
    assert statuses() == ["SENT", "DELIVERED"]
    last = receiver.accepted()[-1].json
    kimisms_fields = ("message_id", "contact", "status", "description", "provider")
    assert {field: last[field] for field in kimisms_fields} == {
        "message_id": sent["message_id"],
        "contact": "254712345678",
        "status": "DELIVERED",
        "description": "Message delivered to handset",
        "provider": "Safaricom",
    }

    # a Safaricom-only sender to an Airtel number: refused in the document's words
    refused = await c.post(
        "/api/send-sms",
        json={**body, "sender_name": "DUKAOTP", "contact": "254733123456"},
        headers={"Authorization": headers["Authorization"]},
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "Invalid contact",
        "description": "The recipient's network must match the Sender ID's provider",
    }

    # the operator's adjustments and reconciliation cover the team wallet and the float
    credited = await run(jumbe, "accounts", "credit", team_code, "5", "--sender", float_of)
    assert "balance is now 204 units" in credited
    checked = await run(jumbe, "accounts", "balance", team_code)
    assert re.search(r"units float of sender DUKALETU on safaricom .*: 204 units", checked)
    assert "top-ups: 1 completed for 200 units; ledger credits for them 200" in checked
    assert "reconciled: yes" in checked
