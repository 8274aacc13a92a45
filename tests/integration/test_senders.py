"""Sender IDs: registrations per carrier, applications with KYC documents reviewed by
staff, the team default, and the carrier rule on REST and SMPP."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

import jumbe.store.database as database
from jumbe.app import Jumbe
from jumbe.services import Services
from jumbe.services.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    SenderNotOnCarrier,
    UnknownSender,
)
from jumbe.services.messaging import SendRequest
from jumbe.services.senders import ApplicationForm, Upload
from jumbe.services.tokens import Caller
from jumbe.settings import Settings
from jumbe.smpp.constants import CommandStatus
from jumbe.store.database import Database, alembic_config
from tests.conftest import demo_token, running
from tests.integration.signup_helpers import bearer, cli, http, signed_up, staff_session
from tests.integration.test_smpp_server import bind, submit

SAFARICOM = "+254712345678"
AIRTEL = "+254733123456"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def kyc(
    registration: bytes = PDF, letter: bytes = PNG, **extra: tuple[str, bytes, str]
) -> dict[str, Any]:
    return {
        "business_registration": ("certificate.pdf", registration, "application/pdf"),
        "authorisation_letter": ("letter.png", letter, "image/png"),
        **extra,
    }


def form(name: str, carrier: str, **kw: str) -> dict[str, str]:
    return {
        "name": name,
        "carrier": carrier,
        "campaign_type": kw.pop("campaign_type", "TRANSACTIONAL"),
        "organisation": "Duka Letu Ltd",
        "purpose": "order confirmations",
        **kw,
    }


async def apply(c: httpx.AsyncClient, session: str, name: str, carrier: str) -> dict[str, Any]:
    answer = await c.post(
        "/api/v1/senders/applications",
        headers=bearer(session),
        data=form(name, carrier),
        files=kyc(),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


async def review(
    c: httpx.AsyncClient, staff: str, uuid: str, to: str, reason: str | None = None
) -> httpx.Response:
    return await c.post(
        f"/api/v1/staff/senders/applications/{uuid}/review",
        headers=bearer(staff),
        json={"to": to, "reason": reason},
    )


async def messages_token(c: httpx.AsyncClient, session: str) -> str:
    made = await c.post(
        "/api/v1/tokens",
        headers=bearer(session),
        json={"name": "sends", "scopes": ["messages"]},
    )
    assert made.status_code == 200, made.text
    return str(made.json()["data"]["raw_token"])


def stored_files(jumbe: Jumbe) -> list[Path]:
    return sorted(p for p in (jumbe.settings.data_dir / "kyc").rglob("*") if p.is_file())


async def test_apply_review_and_send_by_the_carrier_rule(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, "owner@duka.co.ke")
        staff = await staff_session(jumbe, c)
        safaricom = await apply(c, owner, "DUKALETU", "Safaricom")
        airtel = await apply(c, owner, "DUKALETU", "airtel")
        assert safaricom["status"] == "PENDING" and safaricom["carrier"] == "safaricom"
        assert [d["kind"] for d in safaricom["documents"]] == [
            "business_registration",
            "authorisation_letter",
        ]
        assert safaricom["documents"][0]["content_type"] == "application/pdf"
        assert safaricom["history"][0]["by"] == {"kind": "member", "name": "owner@duka.co.ke"}
        assert len(stored_files(jumbe)) == 4
        for f in stored_files(jumbe):
            assert f.stat().st_mode & 0o077 == 0  # the owner's only

        again = await c.post(
            "/api/v1/senders/applications",
            headers=bearer(owner),
            data=form("DUKALETU", "safaricom"),
            files=kyc(),
        )
        assert again.status_code == 409 and "already PENDING" in again.json()["error"]

        # staff see every account's applications and move them
        pending = await c.get(
            "/api/v1/staff/senders/applications",
            headers=bearer(staff),
            params={"status": "pending"},
        )
        assert pending.json()["data"]["total"] == 2
        assert pending.json()["data"]["items"][0]["account"]["name"] == "Duka Letu Ltd"
        early = await review(c, staff, safaricom["uuid"], "APPROVED")
        assert early.status_code == 409 and "PENDING can move to PROVIDER" in early.text
        assert (await review(c, staff, safaricom["uuid"], "PROVIDER")).status_code == 200
        approved = await review(c, staff, safaricom["uuid"], "APPROVED")
        assert approved.status_code == 200, approved.text
        assert approved.json()["data"]["registration_uuid"]
        history = approved.json()["data"]["history"]
        assert [(h["from"], h["to"]) for h in history] == [
            (None, "PENDING"),
            ("PENDING", "PROVIDER"),
            ("PROVIDER", "APPROVED"),
        ]
        assert history[-1]["by"]["name"] == "ops@jumbe-operator.co.ke"
        assert (await review(c, staff, airtel["uuid"], "REJECTED")).status_code == 400
        nul = await review(c, staff, airtel["uuid"], "REJECTED", "bad\x00")
        assert nul.status_code == 400 and "NUL" in nul.json()["error"]
        rejected = await review(c, staff, airtel["uuid"], "REJECTED", "letter is not signed")
        assert rejected.json()["data"]["reason"] == "letter is not signed"
        final = await review(c, staff, airtel["uuid"], "PROVIDER")
        assert final.status_code == 409 and "final" in final.json()["error"]
        # a customer's session is not staff
        assert (await review(c, owner, airtel["uuid"], "PROVIDER")).status_code == 401

        told = await jumbe.services.mail.list_mail(to="owner@duka.co.ke", limit=10)
        assert [m.subject for m in told[:4]] == [
            "Sender ID DUKALETU on airtel: REJECTED",
            "Sender ID DUKALETU on safaricom: APPROVED",
            "Sender ID DUKALETU on safaricom: PROVIDER",
            "Verify your email for Jumbe",
        ]
        assert "was rejected: letter is not signed" in told[0].body

        # the customer reads their own application, staff's name kept to staff
        mine = await c.get(f"/api/v1/senders/applications/{airtel['uuid']}", headers=bearer(owner))
        assert mine.json()["data"]["status"] == "REJECTED"
        assert mine.json()["data"]["history"][-1]["by"] == {"kind": "staff", "name": None}

        listed = await c.get("/api/v1/senders", headers=bearer(owner))
        assert listed.status_code == 200, listed.text
        [registration] = listed.json()["data"]
        assert registration["name"] == "DUKALETU" and registration["carrier"] == "safaricom"
        assert registration["default"] is True  # the account's first name

        token = await messages_token(c, owner)
        as_token = await c.get("/api/v1/senders", headers=bearer(token))
        assert as_token.json()["data"] == listed.json()["data"]
        sends = [
            {"to": SAFARICOM, "message": "by name", "sender_id": "DUKALETU"},
            {"to": SAFARICOM, "message": "by uuid", "sender_id": registration["uuid"]},
            {"to": SAFARICOM, "message": "by default"},
        ]
        account_id = await jumbe.services.accounts.find_account("Duka Letu Ltd")
        await jumbe.services.billing.credit(account_id, 10)
        for body in sends:
            sent = await c.post("/api/v1/messages", headers=bearer(token), json=body)
            assert sent.status_code == 200, sent.text
            assert sent.json()["data"]["sender_id"] == "DUKALETU"
        for body in (
            {"to": AIRTEL, "message": "hi", "sender_id": "DUKALETU"},
            {"to": AIRTEL, "message": "hi", "sender_id": registration["uuid"]},
            {"to": AIRTEL, "message": "hi"},
        ):
            refused = await c.post("/api/v1/messages", headers=bearer(token), json=body)
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == (
                "sender ID 'DUKALETU' is approved on safaricom only, and the recipient's"
                " number is on airtel: the recipient's network must match the sender ID's"
                " carrier"
            )


async def test_documents_are_checked_by_content_and_read_only_by_their_account(
    jumbe: Jumbe,
) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, "owner@duka.co.ke")
        other = await signed_up(jumbe, c, "boss@soko.co.ke", organisation="Soko Safi Ltd")
        staff = await staff_session(jumbe, c)

        refusals = [
            (kyc(registration=b"#!/bin/sh\nrm -rf /\n"), "must be a PDF, PNG or JPEG"),
            (kyc(letter=b"GIF89a" + b"\x00" * 32), "must be a PDF, PNG or JPEG"),
            (kyc(registration=b""), "is empty"),
            (kyc(letter=PDF + b"\x00" * (5 * 1024 * 1024)), "larger than 5 MB"),
            ({"business_registration": ("c.pdf", PDF, "application/pdf")}, "send one of each"),
        ]
        for files, reason in refusals:
            answer = await c.post(
                "/api/v1/senders/applications",
                headers=bearer(owner),
                data=form("DUKALETU", "safaricom"),
                files=files,
            )
            assert answer.status_code == 400, answer.text
            assert reason in answer.json()["error"]
        for data, reason in [
            (form("TOOLONGNAME12", "safaricom"), "1 to 11"),
            (form("DUKA", "Mtandao Mpya"), "unknown carrier 'Mtandao Mpya'"),
            (form("DUKA", "safaricom", campaign_type="SPAM"), "PROMOTIONAL, TRANSACTIONAL"),
            ({"carrier": "safaricom"}, "name, campaign_type, organisation are required"),
            (form("DUKA", "safaricom", organisation="Duka\x00Letu"), "NUL characters"),
            (form("DUKA", "safaricom", purpose="x" * 501), "at most 500 characters"),
        ]:
            answer = await c.post(
                "/api/v1/senders/applications", headers=bearer(owner), data=data, files=kyc()
            )
            assert answer.status_code == 400 and reason in answer.json()["error"], answer.text
        json_body = await c.post(
            "/api/v1/senders/applications", headers=bearer(owner), json=form("D", "safaricom")
        )
        assert json_body.status_code == 400 and "multipart/form-data" in json_body.text
        assert stored_files(jumbe) == []  # nothing refused was kept

        named_pdf = kyc(letter=JPEG)  # a JPEG sent as letter.png: stored as what it is
        answer = await c.post(
            "/api/v1/senders/applications",
            headers=bearer(owner),
            data=form("40100", "safaricom"),
            files=named_pdf,
        )
        assert answer.status_code == 200, answer.text
        application = answer.json()["data"]
        assert application["kind"] == "short_code"
        letter = application["documents"][1]
        assert letter["content_type"] == "image/jpeg" and letter["filename"] == "letter.png"
        assert sorted(p.suffix for p in stored_files(jumbe)) == [".jpg", ".pdf"]

        url = letter["url"]
        mine = await c.get(url, headers=bearer(owner))
        assert mine.status_code == 200 and mine.content == JPEG
        assert mine.headers["content-type"] == "image/jpeg"
        assert mine.headers["x-content-type-options"] == "nosniff"
        assert "attachment" in mine.headers["content-disposition"]
        assert (await c.get(url, headers=bearer(other))).status_code == 404
        assert (await c.get(url)).status_code == 401
        assert jumbe.demo is not None
        assert (await c.get(url, headers=bearer(jumbe.demo.api_token))).status_code == 401
        staff_url = url.replace("/api/v1/senders/", "/api/v1/staff/senders/")
        by_staff = await c.get(staff_url, headers=bearer(staff))
        assert by_staff.status_code == 200 and by_staff.content == JPEG
        assert (await c.get(staff_url, headers=bearer(owner))).status_code == 401
        sims_only, _ = await demo_token(jumbe, "sims only", ["sims"])
        assert (await c.get("/api/v1/senders", headers=bearer(sims_only))).status_code == 403
        assert (await c.get("/api/v1/senders", headers=bearer(staff))).status_code == 401
        demo = await c.get("/api/v1/senders", headers=bearer(jumbe.demo.api_token))
        assert {(r["name"], r["carrier"], r["default"]) for r in demo.json()["data"]} == {
            ("JUMBE", "*", True),
            (jumbe.demo.short_code, "*", False),
        }
        assert (await c.get("/api/v1/senders", headers=bearer(other))).json()["data"] == []
        theirs = await c.get("/api/v1/senders/applications", headers=bearer(other))
        assert theirs.json()["data"]["total"] == 0
        peek = await c.get(
            f"/api/v1/senders/applications/{application['uuid']}", headers=bearer(other)
        )
        assert peek.status_code == 404


async def test_an_upload_over_the_cap_is_refused_in_the_envelope(settings: Settings) -> None:
    async with running(settings, http_max_upload=64 * 1024) as small, http(small) as c:
        owner = await signed_up(small, c, "owner@duka.co.ke")
        answer = await c.post(
            "/api/v1/senders/applications",
            headers=bearer(owner),
            data=form("DUKALETU", "safaricom"),
            files=kyc(registration=PDF + b"\x00" * 100_000),
        )
        assert answer.status_code == 413
        assert answer.json() == {
            "success": False,
            "error": "the request body is larger than 65536 bytes",
        }


async def test_the_resolver_one_rule_for_every_face(services: Services) -> None:
    acme = await services.accounts.create_account("Acme", sender="ACME")
    account = acme.account_id
    await services.billing.credit(account, 20)
    senders = services.senders
    legacy = {r.name: r for r in await senders.registrations(account)}
    assert legacy["ACME"].carrier == legacy[acme.short_code].carrier == "*"
    assert legacy["ACME"].is_default  # the operator's sender is the default

    made = await senders.create(account, "ACMEPROMO", "Safaricom", "promotional")
    assert (made.carrier, made.campaign_type, made.status) == (
        "safaricom",
        "PROMOTIONAL",
        "approved",
    )
    with pytest.raises(Conflict, match="already registered on safaricom"):
        await senders.create(account, "ACMEPROMO", "safaricom")
    other = await services.accounts.create_account("Other")
    with pytest.raises(Conflict, match="another account"):
        await senders.create(other.account_id, "acmepromo", "safaricom")
    await senders.create(other.account_id, "OTHERS", "airtel")
    raced = await asyncio.gather(
        *(senders.create(account, "RACE", "airtel") for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, Conflict) for r in raced) == 4, raced  # never a 500

    send = services.messaging.send
    ok = await send(account, SendRequest(SAFARICOM, "hi", sender="ACMEPROMO"))
    assert ok.sender == "ACMEPROMO"
    by_uuid = await send(account, SendRequest(SAFARICOM, "hi", sender=made.uuid))
    assert by_uuid.sender == "ACMEPROMO"
    with pytest.raises(SenderNotOnCarrier, match="approved on safaricom only") as refused:
        await send(account, SendRequest(AIRTEL, "hi", sender="ACMEPROMO"))
    assert (refused.value.carrier, refused.value.approved_on) == ("airtel", ("safaricom",))
    assert (await send(account, SendRequest(AIRTEL, "hi"))).sender == "ACME"  # default: '*'
    with pytest.raises(UnknownSender, match="not registered"):
        await send(account, SendRequest(SAFARICOM, "hi", sender="OTHERS"))  # not theirs

    # the default is a name, resolved per carrier; only members who manage senders set it
    owner = Caller(account_id=account, token_id=None, scopes=frozenset(), user_id=1, role="owner")
    member = Caller(account_id=account, token_id=None, scopes=frozenset(), user_id=1, role="member")
    with pytest.raises(Forbidden, match="a member may not apply for sender IDs"):
        await senders.set_default(member, "ACMEPROMO")
    token = Caller(account_id=account, token_id=1, scopes=frozenset({"messages"}))
    with pytest.raises(Forbidden, match="not API tokens"):
        await senders.set_default(token, "ACMEPROMO")
    with pytest.raises(Exception, match="no approved sender ID 'NOPE'"):
        await senders.set_default(owner, "NOPE")
    assert (await senders.set_default(owner, made.uuid)).is_default
    assert (await send(account, SendRequest(SAFARICOM, "hi"))).sender == "ACMEPROMO"
    with pytest.raises(SenderNotOnCarrier):
        await send(account, SendRequest(AIRTEL, "hi"))
    # the same name registered on a second carrier reaches it too
    await senders.create(account, "ACMEPROMO", "airtel", "PROMOTIONAL")
    assert (await send(account, SendRequest(AIRTEL, "hi"))).sender == "ACMEPROMO"

    # a bulk send refuses only the message that breaks the rule
    results = await services.messaging.send_many(
        account,
        [
            SendRequest("+254771234567", "telkom", sender="ACMEPROMO"),
            SendRequest(SAFARICOM, "fine", sender="ACMEPROMO"),
        ],
    )
    assert isinstance(results[0], SenderNotOnCarrier) and results[1].sender == "ACMEPROMO"

    with pytest.raises(Forbidden):
        await senders.apply(
            member, ApplicationForm("NEWONE", "safaricom", "TRANSACTIONAL", "Acme"), []
        )
    with pytest.raises(InvalidRequest, match="send one of each"):
        await senders.apply(
            owner,
            ApplicationForm("NEWONE", "safaricom", "TRANSACTIONAL", "Acme"),
            [Upload("business_registration", io.BytesIO(PDF), "a.pdf")],
        )


async def test_the_cli_creates_lists_and_reviews(jumbe: Jumbe) -> None:
    async def run(*args: str) -> str:
        done = await asyncio.to_thread(cli, jumbe, "senders", *args)
        assert done.exit_code == 0, done.output
        return str(done.stdout)

    made = await run("create", "demo", "JUMBEPROMO", "--carrier", "airtel", "--type", "promotional")
    assert "sender ID 'JUMBEPROMO' approved on airtel" in made
    listed = await run("list", "demo")
    assert "JUMBEPROMO   airtel     PROMOTIONAL   approved" in listed
    assert "JUMBE " in listed and "(default)" in listed
    refused = await asyncio.to_thread(
        cli, jumbe, "senders", "create", "demo", "JUMBEPROMO", "--carrier", "airtel"
    )
    assert refused.exit_code == 2 and "already registered on airtel" in refused.output
    await run("default", "demo", "JUMBEPROMO")

    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, "owner@duka.co.ke")
        application = await apply(c, owner, "DUKALETU", "telkom")
    assert application["uuid"] in await run("applications", "--status", "PENDING")
    assert "is PROVIDER" in await run("review", application["uuid"], "--to", "provider")
    no_reason = await asyncio.to_thread(
        cli, jumbe, "senders", "review", application["uuid"], "--to", "REJECTED"
    )
    assert no_reason.exit_code == 2 and "a rejection needs a reason" in no_reason.output
    approved = await run("review", application["uuid"], "--to", "APPROVED")
    assert "is APPROVED" in approved and "sender ID registered" in approved
    found = await jumbe.services.senders.application(None, application["uuid"])
    assert [(c.actor_kind, c.to_status) for c in found.history][1:] == [
        ("operator", "PROVIDER"),
        ("operator", "APPROVED"),
    ]


async def test_smpp_refuses_a_sender_not_on_the_recipients_carrier(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    account = jumbe.demo.account_id
    await jumbe.services.senders.create(account, "SAFONLY", "safaricom")
    session = await bind(jumbe)
    try:
        ok = await session.request(submit(source_addr="SAFONLY"))
        wrong = await session.request(
            submit(source_addr="SAFONLY", destination_addr="254733123456")
        )
        legacy = await session.request(submit(destination_addr="254733123456"))  # JUMBE: '*'
    finally:
        await session.unbind()
    assert ok.command_status == CommandStatus.ESME_ROK
    assert wrong.command_status == CommandStatus.ESME_RINVSRCADR
    assert legacy.command_status == CommandStatus.ESME_ROK


async def test_upgrade_carries_existing_senders_over_on_every_carrier(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = Services.build(db, settings)
    before_senders = next(
        str(r.down_revision)
        for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        if r.path.endswith("_sender_registrations.py")
    )
    monkeypatch.setattr(
        database, "_upgrade", lambda c: command.downgrade(alembic_config(c), before_senders)
    )
    await db.migrate()
    stamp = "2024-01-01 00:00:00" if db.is_sqlite else datetime.now(UTC)

    def before(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO accounts (id, name, name_key, team_code, status, webhook_secret,"
                " created_at, vpn_group) VALUES (7, 'Old', 'old', 'OLD1', 'active', 's', :n,"
                " '1-100000000007_VPN')"
            ),
            {"n": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO wallets (account_id, asset, balance, updated_at)"
                " VALUES (7, 'units', 0, :n)"
            ),
            {"n": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO sender_ids (uuid, account_id, name, kind, status, is_default,"
                " created_at) VALUES ('u-1', 7, '20001', 'short_code', 'approved', false, :n),"
                " ('u-2', 7, 'OLDCO', 'alphanumeric', 'approved', true, :n)"
            ),
            {"n": stamp},
        )

    await db.write(before)
    monkeypatch.undo()
    await db.migrate()
    rows = {r.name: r for r in await services.senders.registrations(7)}
    assert {(r.uuid, r.carrier, r.campaign_type, r.status) for r in rows.values()} == {
        ("u-1", "*", "TRANSACTIONAL", "approved"),
        ("u-2", "*", "TRANSACTIONAL", "approved"),
    }
    assert rows["OLDCO"].is_default and not rows["20001"].is_default
    await services.billing.credit(7, 5)
    services.messaging.start()
    try:
        for to in (SAFARICOM, AIRTEL, "+255754123456"):
            sent = await services.messaging.send(7, SendRequest(to, "still works"))
            assert sent.sender == "OLDCO"
    finally:
        await services.messaging.stop()
