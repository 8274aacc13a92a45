"""The portal over real HTTP, without a browser: sign-up to sign-in, CSRF, sessions,
Quick Send, sender applications, top-ups, developer credentials, staff pages.

The browser tests (``test_portal_browser.py``) drive the same flows in Chromium;
these pin the rules a browser would not show: a form without its token is
refused, a cookie is HTTP-only and SameSite, another account's identifiers
find nothing, a customer's session opens no staff page.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from jumbe.app import Jumbe
from jumbe.services.messaging import SendRequest
from jumbe.settings import Settings
from jumbe.store.schema import users
from tests.conftest import running, wait_until
from tests.integration.api_world import PDF
from tests.integration.portal_client import Portal
from tests.integration.signup_helpers import STRONG, last_mail, link_in, token_of

EMAIL = "wanjiku@duka.co.ke"


async def _account_of(jumbe: Jumbe, email: str) -> int:
    query = select(users.c.account_id).where(users.c.email == email)
    return int(await jumbe.db.read(lambda conn: conn.execute(query).scalar_one()))


async def test_sign_up_verify_sign_in_and_out(jumbe: Jumbe) -> None:
    async with Portal(jumbe) as p:
        assert (await p.get("/dashboard")).status_code == 303  # not signed in: to sign in
        await p.sign_up(EMAIL)
        signed_in = await p.sign_in(EMAIL)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
        cookie = signed_in.headers.get_list("set-cookie")
        session = next(c for c in cookie if c.startswith("jumbe_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session, session
        assert "Secure" not in session  # served over http here; https sets it
        page = await p.get("/dashboard")
        assert page.status_code == 200 and "Duka Letu Ltd" in page.text, page.text
        assert page.headers["cache-control"] == "no-store"
        out = await p.submit("/dashboard", "/signout")
        assert out.status_code == 303
        assert (await p.get("/dashboard")).status_code == 303


async def test_wrong_password_shows_the_form_again(jumbe: Jumbe) -> None:
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        answer = await p.sign_in(EMAIL, "not-the-password")
        assert answer.status_code == 401 and "wrong email or password" in answer.text


async def test_a_form_without_its_csrf_token_is_refused(jumbe: Jumbe) -> None:
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        await p.sign_in(EMAIL)
        forged = await p.http.post("/send", data={"to": "0712345678", "message": "x"})
        assert forged.status_code == 403 and "expired" in forged.text
        wrong = await p.http.post("/send", data={"to": "0712345678", "csrf": "guess"})
        assert wrong.status_code == 403
        # a token from before sign-in is not the session's
        async with Portal(jumbe) as other:
            stale = await other.csrf("/signin")
        assert (await p.http.post("/send", data={"csrf": stale})).status_code == 403


async def test_quick_send_follows_the_message_to_delivered(jumbe: Jumbe) -> None:
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        account = await _account_of(jumbe, EMAIL)
        await jumbe.services.senders.create(account, "DUKA", "safaricom")
        await jumbe.services.senders.set_default_for_operator(account, "DUKA")
        await jumbe.services.billing.credit(account, 100, "test units")
        await p.sign_in(EMAIL)
        form = await p.get("/send")
        assert "DUKA (safaricom)" in form.text
        sent = await p.submit(
            "/send", "/send", {"to": "0712345678", "sender": "DUKA", "message": "Habari"}
        )
        assert sent.status_code == 303, sent.text
        where = sent.headers["location"]

        async def delivered() -> bool:
            return '<strong id="status">Delivered</strong>' in (await p.get(where)).text

        await wait_until(delivered, within=15, what="the page to show Delivered")
        dashboard = await p.get("/dashboard")
        assert re.search(r'id="today-delivered">1<', dashboard.text), dashboard.text


async def test_another_accounts_message_is_not_found(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    theirs = await jumbe.services.messaging.send(
        jumbe.demo.account_id, SendRequest(to="0712345678", text="secret")
    )
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        await p.sign_in(EMAIL)
        page = await p.get(f"/messages/{theirs.uuid}")
        assert page.status_code == 404 and "secret" not in page.text


async def test_sender_application_reviewed_by_staff(jumbe: Jumbe) -> None:
    staff = jumbe.services.staff
    _view, link = await staff.create("ops@jumbe.co.ke", "Ops")
    await staff.set_password(token_of(link), STRONG)
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        await p.sign_in(EMAIL)
        applied = await p.submit(
            "/senders/apply",
            "/senders/apply",
            {
                "name": "DUKALETU",
                "carrier": "safaricom",
                "campaign_type": "TRANSACTIONAL",
                "organisation": "Duka Letu Ltd",
                "purpose": "receipts",
            },
            files={
                "business_registration": ("cert.pdf", PDF, "application/pdf"),
                "authorisation_letter": ("letter.pdf", PDF, "application/pdf"),
            },
        )
        assert applied.status_code == 303, applied.text
        where = applied.headers["location"]
        uuid = where.rsplit("/", 1)[1]
        # a customer's session opens no staff page
        assert (await p.get("/staff/senders")).status_code == 303
        signed = await p.submit(
            "/staff/signin", "/staff/signin", {"email": "ops@jumbe.co.ke", "password": STRONG}
        )
        assert signed.status_code == 303, signed.text
        queue = await p.get("/staff/senders")
        assert uuid in queue.text
        detail = await p.get(f"/staff/senders/{uuid}")
        document = re.search(r'href="(/staff/senders/[^"]+/documents/[^"]+)"', detail.text)
        assert document is not None, detail.text
        assert (await p.get(document.group(1))).content == PDF
        for to in ("PROVIDER", "APPROVED"):
            moved = await p.submit(
                f"/staff/senders/{uuid}", f"/staff/senders/{uuid}/review", {"to": to}
            )
            assert moved.status_code == 303, moved.text
        mine = await p.get(where)
        assert 'id="application-status">APPROVED<' in mine.text, mine.text
        assert "DUKALETU" in (await p.get("/senders")).text


async def test_mpesa_top_up_credits_the_wallet(jumbe: Jumbe) -> None:
    offer = await jumbe.services.pricing.create_package(None, "safaricom", "Bulk", "0.80")
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        await p.sign_in(EMAIL)
        bought = await p.submit(
            "/billing",
            "/billing/topups",
            {"package": offer.uuid, "units": "500", "method": "mpesa", "phone": "0712345678"},
        )
        assert bought.status_code == 303, bought.text
        where = bought.headers["location"]

        async def completed() -> bool:
            return 'id="topup-status">Completed<' in (await p.get(where)).text

        await wait_until(completed, within=20, what="the payment to complete")
        assert 'id="balance">500<' in (await p.get("/billing")).text


async def test_developer_tokens_and_kimisms_credentials_shown_once(jumbe: Jumbe) -> None:
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        await p.sign_in(EMAIL)
        made = await p.submit(
            "/developer", "/developer/tokens", {"name": "shop", "scopes": "messages"}
        )
        raw = re.search(r'id="new-token">([^<]+)<', made.text)
        assert made.status_code == 200 and raw is not None, made.text
        again = await p.get("/developer")
        assert raw.group(1) not in again.text and "shop" in again.text
        secret = await p.submit("/developer", "/developer/kimisms")
        assert 'id="kimisms-secret">' in secret.text


async def test_offline_top_up_approved_by_staff(jumbe: Jumbe) -> None:
    offer = await jumbe.services.pricing.create_package(None, "safaricom", "Bulk", "0.80")
    staff = jumbe.services.staff
    _view, link = await staff.create("ops@jumbe.co.ke", "Ops")
    await staff.set_password(token_of(link), STRONG)
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        await p.sign_in(EMAIL)
        asked = await p.submit(
            "/billing",
            "/billing/topups",
            {"package": offer.uuid, "units": "300", "method": "offline", "reference": "EQ-77"},
        )
        assert asked.status_code == 303, asked.text
        where = asked.headers["location"]
        assert "Waiting for the operator" in (await p.get(where)).text
        await p.submit(
            "/staff/signin", "/staff/signin", {"email": "ops@jumbe.co.ke", "password": STRONG}
        )
        queue = await p.get("/staff/topups")
        assert "EQ-77" in queue.text, queue.text
        uuid = where.rsplit("/", 1)[1]
        approved = await p.submit(
            "/staff/topups", f"/staff/topups/{uuid}/review", {"decision": "approve"}
        )
        assert approved.status_code == 303, approved.text
        assert 'id="topup-status">Completed<' in (await p.get(where)).text
        assert 'id="balance">300<' in (await p.get("/billing")).text


async def test_team_invite_accept_and_roles(jumbe: Jumbe) -> None:
    invitee = "otieno@duka.co.ke"
    async with Portal(jumbe) as owner, Portal(jumbe) as joiner:
        await owner.sign_up(EMAIL)
        await owner.sign_in(EMAIL)
        invited = await owner.submit("/team", "/team/invite", {"email": invitee, "role": "viewer"})
        assert invited.status_code == 200 and invitee in invited.text, invited.text
        link = link_in(await last_mail(jumbe, invitee))
        landed = await joiner.get(link, headers={"Accept": "text/html"}, follow_redirects=True)
        assert "Join Duka Letu Ltd" in landed.text and "viewer" in landed.text, landed.text
        joined = await joiner.http.post(
            "/invitation",
            data={
                "csrf": await joiner.csrf(str(landed.url)),
                "token": token_of(link),
                "name": "Otieno Odhiambo",
                "password": "Marula-Compass-Heron-58",
            },
        )
        assert joined.status_code == 200 and "joined the team" in joined.text, joined.text
        await joiner.sign_in(invitee, "Marula-Compass-Heron-58")
        team = await joiner.get("/team")
        assert EMAIL in team.text and "Invite a member" not in team.text  # a viewer
        refused = await joiner.submit("/team", "/team/invite", {"email": "x@duka.co.ke"})
        assert refused.status_code == 403, refused.text
        assert (await joiner.get("/send")).status_code == 403  # a viewer does not send


async def test_cookies_are_secure_behind_an_https_public_url(settings: Settings) -> None:
    https = running(settings, public_url="https://sms.duka.co.ke")
    async with https as jumbe, Portal(jumbe) as p:
        page = await p.get("/signin")
        assert "Secure" in page.headers["set-cookie"], page.headers


async def test_password_reset_from_the_mailed_link(jumbe: Jumbe) -> None:
    fresh = "Baobab-Lantern-Okapi-73"
    async with Portal(jumbe) as p:
        await p.sign_up(EMAIL)
        asked = await p.submit("/reset", "/reset", {"email": EMAIL})
        assert "Check your mail" in asked.text
        link = link_in(await last_mail(jumbe, EMAIL))
        landed = await p.get(link, headers={"Accept": "text/html"}, follow_redirects=True)
        assert f"for {EMAIL}" in landed.text, landed.text
        changed = await p.http.post(
            "/reset/confirm",
            data={
                "csrf": await p.csrf(str(landed.url)),
                "token": token_of(link),
                "password": fresh,
            },
        )
        assert "Password changed" in changed.text, changed.text
        assert (await p.sign_in(EMAIL)).status_code == 401  # the old password is gone
        assert (await p.sign_in(EMAIL, fresh)).status_code == 303
