"""Team members and the role table, over real HTTP: invitations, roles, removal (issue 12)."""

from __future__ import annotations

import asyncio

import httpx

from jumbe.app import Jumbe
from tests.integration.signup_helpers import (
    bearer,
    http,
    last_mail,
    link_in,
    login,
    signed_up,
    token_of,
)
from tests.integration.test_staff import cli

OWNER = "owner@duka.co.ke"


async def invited(jumbe: Jumbe, c: httpx.AsyncClient, by: str, email: str, role: str) -> str:
    """Invite ``email`` as ``role``, accept by the mailed link, sign in: their session."""
    answer = await c.post(
        "/api/v1/team/members", headers=bearer(by), json={"email": email, "role": role}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["status"] == "invited"
    mail = await last_mail(jumbe, email)
    assert mail.subject == "You are invited to Duka Letu Ltd on Jumbe"
    token = token_of(link_in(mail))
    shown = await c.get("/api/v1/auth/invitation", params={"token": token})
    assert shown.json()["data"]["role"] == role
    accepted = await c.post(
        "/api/v1/auth/invitation/accept",
        json={"token": token, "name": f"The {role}", "password": "Savanna-Lantern-Okra-31"},
    )
    assert accepted.status_code == 200, accepted.text
    reused = await c.post(
        "/api/v1/auth/invitation/accept",
        json={"token": token, "name": "Someone", "password": "Another-Long-Phrase-90"},
    )
    assert reused.status_code == 400
    session = await login(c, email, "Savanna-Lantern-Okra-31")
    assert session.status_code == 200, session.text
    return str(session.json()["data"]["access_token"])


async def set_role(c: httpx.AsyncClient, by: str, member: str, role: str) -> httpx.Response:
    return await c.patch(f"/api/v1/team/members/{member}", headers=bearer(by), json={"role": role})


async def test_the_role_table_is_enforced(jumbe: Jumbe) -> None:
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        admin = await invited(jumbe, c, owner, "admin@duka.co.ke", "admin")
        member = await invited(jumbe, c, admin, "member@duka.co.ke", "member")
        viewer = await invited(jumbe, c, admin, "viewer@duka.co.ke", "viewer")

        members = (await c.get("/api/v1/team/members", headers=bearer(viewer))).json()["data"]
        assert {m["email"]: m["role"] for m in members} == {
            OWNER: "owner",
            "admin@duka.co.ke": "admin",
            "member@duka.co.ke": "member",
            "viewer@duka.co.ke": "viewer",
        }
        assert {m["status"] for m in members} == {"active"}
        uuid = {m["email"]: m["uuid"] for m in members}

        # a viewer may not manage tokens at all
        for call in (
            c.get("/api/v1/tokens", headers=bearer(viewer)),
            c.post(
                "/api/v1/tokens", headers=bearer(viewer), json={"name": "x", "scopes": ["reports"]}
            ),
        ):
            answer = await call
            assert answer.status_code == 403
            assert answer.json()["error"] == (
                "Forbidden: the viewer role may not use the 'api_tokens' scope"
            )

        # a member makes tokens for what a member may do, and nothing more
        ok = await c.post(
            "/api/v1/tokens", headers=bearer(member), json={"name": "ok", "scopes": ["messages"]}
        )
        assert ok.status_code == 200
        beyond = await c.post(
            "/api/v1/tokens",
            headers=bearer(member),
            json={"name": "sims", "scopes": ["messages", "sims"]},
        )
        assert beyond.status_code == 403
        assert beyond.json()["error"] == "Forbidden: the member role may not grant sims"

        # a member may not invite
        no_invite = await c.post(
            "/api/v1/team/members",
            headers=bearer(member),
            json={"email": "x@duka.co.ke", "role": "viewer"},
        )
        assert no_invite.status_code == 403
        assert no_invite.json()["error"].startswith("Forbidden: a member may not invite members")

        # an admin manages the team but not its owners
        make_owner = await set_role(c, admin, uuid["member@duka.co.ke"], "owner")
        assert make_owner.status_code == 403
        demote_owner = await set_role(c, admin, uuid[OWNER], "admin")
        assert demote_owner.status_code == 403
        demoted = await set_role(c, admin, uuid["member@duka.co.ke"], "viewer")
        assert demoted.json()["data"]["role"] == "viewer"
        # the change holds at once for the session already issued
        now_viewer = await c.get("/api/v1/tokens", headers=bearer(member))
        assert now_viewer.status_code == 403

        # an account always keeps one owner
        last = await set_role(c, owner, uuid[OWNER], "admin")
        assert last.status_code == 409
        assert last.json()["error"].startswith("an account always keeps one owner")
        leave = await c.delete(f"/api/v1/team/members/{uuid[OWNER]}", headers=bearer(owner))
        assert leave.status_code == 409

        # removal ends the member's sessions
        removed = await c.delete(
            f"/api/v1/team/members/{uuid['viewer@duka.co.ke']}", headers=bearer(admin)
        )
        assert removed.status_code == 200
        gone = await c.get("/api/v1/team/members", headers=bearer(viewer))
        assert gone.status_code == 401

        # a second owner, then the first may step down
        promoted = await set_role(c, owner, uuid["admin@duka.co.ke"], "owner")
        assert promoted.status_code == 200
        stepped_down = await set_role(c, owner, uuid[OWNER], "member")
        assert stepped_down.json()["data"]["role"] == "member"


async def test_the_team_api_takes_sessions_of_its_own_account_only(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    async with http(jumbe) as c:
        owner = await signed_up(jumbe, c, OWNER)
        other = await signed_up(jumbe, c, "boss@other.co.ke", organisation="Other Ltd")
        theirs = (await c.get("/api/v1/team/members", headers=bearer(other))).json()["data"]

        token = await c.get("/api/v1/team/members", headers=bearer(jumbe.demo.api_token))
        assert token.status_code == 401
        assert "takes a sign-in session" in token.json()["error"]
        foreign = await c.delete(f"/api/v1/team/members/{theirs[0]['uuid']}", headers=bearer(owner))
        assert foreign.status_code == 404
        mine = (await c.get("/api/v1/team/members", headers=bearer(owner))).json()["data"]
        assert [m["email"] for m in mine] == [OWNER]

        # an address that signs in elsewhere cannot be invited; a pending invitation is re-sent
        taken = await c.post(
            "/api/v1/team/members",
            headers=bearer(owner),
            json={"email": "boss@other.co.ke", "role": "member"},
        )
        assert taken.status_code == 409
        for role in ("member", "admin"):
            again = await c.post(
                "/api/v1/team/members",
                headers=bearer(owner),
                json={"email": "new@duka.co.ke", "role": role},
            )
            assert again.json()["data"]["role"] == role
        assert len(await jumbe.services.mail.list_mail(to="new@duka.co.ke")) == 2


async def test_the_operator_invites_an_owner_to_an_account_made_from_the_cli(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    async with http(jumbe) as c:
        sent = await asyncio.to_thread(
            cli, jumbe, "users", "invite", jumbe.demo.team_code, "boss@demo.co.ke"
        )
        assert sent.exit_code == 0, sent.output
        mail = await last_mail(jumbe, "boss@demo.co.ke")
        assert "The Jumbe operator, for demo, invites you to join demo on Jumbe as owner" in (
            mail.body
        )
        accepted = await c.post(
            "/api/v1/auth/invitation/accept",
            json={
                "token": token_of(link_in(mail)),
                "name": "Demo Boss",
                "password": "Savanna-Lantern-Okra-31",
            },
        )
        assert accepted.status_code == 200, accepted.text
        session = (await login(c, "boss@demo.co.ke", "Savanna-Lantern-Okra-31")).json()["data"]
        tokens = await c.get("/api/v1/tokens", headers=bearer(session["access_token"]))
        assert [t["name"] for t in tokens.json()["data"]] == ["default"]
