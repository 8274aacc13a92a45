"""Sign-up, email verification, sign-in and password reset over real HTTP (issue 12).

Mail is read from the local outbox (no SMTP configured), exactly as a person
running `make run` reads it with `jumbe mail list`; links are opened as they
are written in the mail.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

from jumbe.app import Jumbe
from jumbe.services.signed_tokens import LinkTokens
from jumbe.smpp.constants import CommandStatus
from jumbe.store.schema import accounts, api_tokens, sender_ids, wallets
from tests.integration.signup_helpers import (
    ORGANISATION,
    bearer,
    http,
    last_mail,
    link_in,
    login,
    register,
    signed_up,
    token_of,
)
from tests.integration.test_smpp_passwords import bind

EMAIL = "wanjiku@duka.co.ke"


async def test_register_verify_sign_in_and_manage_tokens_with_the_session(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        registered = await register(c, "Wanjiku@Duka.co.ke")
        assert registered.status_code == 200, registered.text
        data = registered.json()["data"]
        assert data["email"] == EMAIL and data["verified"] is False
        assert data["account"]["name"] == ORGANISATION

        mail = await last_mail(jumbe, EMAIL)
        assert mail.status == "local" and mail.subject == "Verify your email for Jumbe"
        link = link_in(mail)
        assert link.startswith(f"{jumbe.local_url}/api/v1/auth/verify?token=")

        unverified = await login(c, EMAIL)
        assert unverified.status_code == 403
        assert unverified.json()["error"].startswith("verify your email first")

        verified = await c.get(link)
        assert verified.json() == {"success": True, "data": {"email": EMAIL, "verified": True}}

        signed_in = await login(c, "  WANJIKU@duka.co.ke ")
        assert signed_in.status_code == 200, signed_in.text
        session = signed_in.json()["data"]
        assert session["token_type"] == "Bearer" and session["expires_in"] == 900
        assert session["user"]["role"] == "owner"
        assert "manage_team" in session["user"]["permissions"]
        jwt = session["access_token"]

        me = await c.get("/api/v1/auth/me", headers=bearer(jwt))
        assert me.json()["data"]["account"]["team_code"] == data["account"]["team_code"]

        # a self-registered account starts with no token, sender, short code or units
        assert (await c.get("/api/v1/tokens", headers=bearer(jwt))).json()["data"] == []
        made = await c.post(
            "/api/v1/tokens",
            headers=bearer(jwt),
            json={"name": "Zapier Integration", "scopes": ["messages", "sims", "api_tokens"]},
        )
        assert made.status_code == 200, made.text  # an owner's session grants any scope
        token = made.json()["data"]["raw_token"]
        listed = await c.get("/api/v1/tokens", headers=bearer(jwt))
        assert [t["name"] for t in listed.json()["data"]] == ["Zapier Integration"]

        # the new token works where tokens work; the session does not
        assert (await c.get("/api/v1/messages", headers=bearer(token))).status_code == 200
        refused = await c.get("/api/v1/messages", headers=bearer(jwt))
        assert refused.status_code == 401
        assert "takes an API token, not a sign-in session" in refused.json()["error"]
        revoked = await c.delete(
            f"/api/v1/tokens/{made.json()['data']['token']['uuid']}", headers=bearer(jwt)
        )
        assert revoked.status_code == 200

    account_id = await jumbe.services.accounts.find_account(data["account"]["team_code"])

    def provisioned(conn: Connection) -> tuple[object, ...]:
        def count(table: Table) -> int:
            query = select(func.count()).where(table.c.account_id == account_id)
            return int(conn.execute(query).scalar_one())

        balance = conn.execute(
            select(func.sum(wallets.c.balance)).where(wallets.c.account_id == account_id)
        ).scalar_one()
        status = conn.execute(
            select(accounts.c.status).where(accounts.c.id == account_id)
        ).scalar_one()
        return count(sender_ids), count(api_tokens), count(wallets), balance, status

    assert await jumbe.db.read(provisioned) == (0, 1, 2, 0, "active")


async def test_links_expired_forged_reused_or_for_another_purpose_are_refused(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        await register(c, EMAIL)
        link = link_in(await last_mail(jumbe, EMAIL))
        token = token_of(link)

        header, claims, signature = token.split(".")
        forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
        forged_claims["sub"] = "1"
        forged = ".".join(
            [
                header,
                base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("="),
                signature,
            ]
        )
        for bad in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense"):
            answer = await c.post("/api/v1/auth/verify", json={"token": bad})
            assert answer.status_code == 400
            assert answer.json() == {"success": False, "error": "this link is not valid"}

        expired_links = LinkTokens(
            jumbe.services.signup.verify_links.keys,
            purpose="verify",
            lifetime=timedelta(minutes=-1),
        )
        sign = await expired_links.signer()
        expired = await c.post("/api/v1/auth/verify", json={"token": sign(1, "whatever")})
        assert expired.json()["error"] == "this link has expired: ask for a new one"

        # a verification link is no reset link
        wrong_use = await c.get("/api/v1/auth/password-reset", params={"token": token})
        assert wrong_use.json()["error"] == "this link is not valid"

        assert (await c.get(link)).status_code == 200
        reused = await c.get(link)
        assert reused.status_code == 400
        assert reused.json()["error"] == "this link has already been used or is no longer valid"


async def test_resend_verification_mails_a_new_link_and_says_the_same_for_anyone(
    jumbe: Jumbe,
) -> None:
    async with http(jumbe) as c:
        await register(c, EMAIL)
        first = await last_mail(jumbe, EMAIL)
        again = await c.post("/api/v1/auth/verify/resend", json={"email": EMAIL})
        nobody = await c.post("/api/v1/auth/verify/resend", json={"email": "nobody@duka.co.ke"})
        assert again.json() == nobody.json()
        second = await last_mail(jumbe, EMAIL)
        assert second.id != first.id
        assert await jumbe.services.mail.list_mail(to="nobody@duka.co.ke") == []
        assert (await c.get(link_in(second))).status_code == 200
        # verified: both links are spent, and no more verification mail is sent
        assert (await c.get(link_in(first))).status_code == 400
        await c.post("/api/v1/auth/verify/resend", json={"email": EMAIL})
        assert (await last_mail(jumbe, EMAIL)).id == second.id


async def test_password_reset_ends_earlier_sessions_and_links(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        old_session = await signed_up(jumbe, c, EMAIL)
        unknown = await c.post("/api/v1/auth/password-reset", json={"email": "nobody@duka.co.ke"})
        known = await c.post("/api/v1/auth/password-reset", json={"email": EMAIL})
        assert unknown.status_code == known.status_code == 200
        assert unknown.json() == known.json()
        assert await jumbe.services.mail.list_mail(to="nobody@duka.co.ke") == []

        first = token_of(link_in(await last_mail(jumbe, EMAIL)))
        await c.post("/api/v1/auth/password-reset", json={"email": EMAIL})
        second = token_of(link_in(await last_mail(jumbe, EMAIL)))

        check = await c.get("/api/v1/auth/password-reset", params={"token": second})
        assert check.json()["data"]["email"] == EMAIL

        weak = await c.post(
            "/api/v1/auth/password-reset/confirm", json={"token": second, "password": "password123"}
        )
        assert weak.status_code == 400
        assert weak.json()["error"].startswith("password is too weak")

        new_password = "Baobab-Sunrise-Tusker-77"
        changed = await c.post(
            "/api/v1/auth/password-reset/confirm", json={"token": second, "password": new_password}
        )
        assert changed.json() == {
            "success": True,
            "data": {"email": EMAIL, "password_changed": True},
        }

        ended = await c.get("/api/v1/tokens", headers=bearer(old_session))
        assert ended.status_code == 401
        assert ended.json()["error"] == "session has ended: sign in again"
        assert (await login(c, EMAIL)).status_code == 401
        assert (await login(c, EMAIL, new_password)).status_code == 200
        for used in (second, first):  # the used link, and the older one it superseded
            again = await c.post(
                "/api/v1/auth/password-reset/confirm",
                json={"token": used, "password": "Another-Long-Phrase-90"},
            )
            assert again.status_code == 400
            assert again.json()["error"] == "this link has already been used or is no longer valid"


async def test_weak_passwords_are_refused_with_the_reason_and_nothing_is_written(
    jumbe: Jumbe,
) -> None:
    cases = {
        "short1!": "password must be at least 10 characters",
        "password1234": "password is too weak: This is a very common password.",
        "duka letu ltd 2024": "it is built on your email, name or organisation's name",
        "wanjiku.kamau.2024": "it is built on your email, name or organisation's name",
        "zxcvbnmasdfgh": "password is too weak:",
    }
    async with http(jumbe) as c:
        for password, reason in cases.items():
            answer = await register(c, EMAIL, password=password)
            assert answer.status_code == 400, password
            assert reason in answer.json()["error"], answer.json()
    assert await jumbe.services.mail.list_mail(to=EMAIL) == []
    count = select(func.count()).select_from(accounts)
    assert await jumbe.db.read(lambda conn: conn.execute(count).scalar_one()) == 1  # the demo


async def test_bad_registrations_are_refused_in_the_envelope(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        taken = await signed_up(jumbe, c, EMAIL)
        assert taken
        same_email = await register(c, EMAIL.upper(), organisation="Other Ltd")
        assert same_email.status_code == 409
        same_name = await register(c, "other@duka.co.ke", organisation="duka  LETU ltd")
        assert same_name.status_code == 409
        bad_email = await register(c, "not-an-email")
        assert bad_email.status_code == 400 and bad_email.json()["error"].startswith("email is")
        missing = await c.post("/api/v1/auth/register", json={"email": EMAIL})
        assert missing.status_code == 400 and "is required" in missing.json()["error"]


async def test_a_session_is_no_smpp_password_and_no_api_token_elsewhere(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        session = await signed_up(jumbe, c, EMAIL)
        team_code = (await c.get("/api/v1/auth/me", headers=bearer(session))).json()["data"][
            "account"
        ]["team_code"]
        for path in ("/api/v1/messages", "/api/v1/sims"):
            for headers in (bearer(session), {"X-API-Key": session}):
                answer = await c.get(path, headers=headers)
                assert answer.status_code == 401, (path, answer.text)
    assert await bind(jumbe, team_code, session) == CommandStatus.ESME_RBINDFAIL
