"""The team page: members and their roles, invitations, and accepting one from its link.

``services.team`` decides who may invite, change or remove whom (an admin
never touches an owner); the page shows the refusal in its words.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from jumbe.faces.portal.web import (
    PortalRoute,
    checked_form,
    member,
    redirect,
    render,
    services,
    text,
)
from jumbe.services.errors import ServiceError
from jumbe.services.roles import ROLES

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


async def _team(request: Request, status: int = 200, **shown: object) -> Response:
    caller = await member(request)
    members = await services(request).team.list_members(caller)
    context = {"members": members, "roles": ROLES, **shown}
    return render(request, "team.html", context, status=status)


@router.get("/team")
async def team(request: Request) -> Response:
    return await _team(request)


@router.post("/team/invite")
async def invite(request: Request) -> Response:
    caller = await member(request, "manage_team")
    form = await checked_form(request)
    email = text(form, "email", 320)
    try:
        await services(request).team.invite(caller, email, text(form, "role", 16))
    except ServiceError as exc:
        return await _team(request, 400, error=str(exc))
    return await _team(request, invited=email)


@router.post("/team/{uuid}/role")
async def change_role(request: Request, uuid: str) -> Response:
    caller = await member(request, "manage_team")
    form = await checked_form(request)
    await services(request).team.change_role(caller, uuid[:64], text(form, "role", 16))
    return redirect("/team")


@router.post("/team/{uuid}/remove")
async def remove(request: Request, uuid: str) -> Response:
    caller = await member(request, "manage_team")
    await checked_form(request)
    await services(request).team.remove_member(caller, uuid[:64])
    return redirect("/team")


@router.get("/invitation")
async def invitation(request: Request, token: str = "") -> Response:
    """The mailed invitation lands here: which team, which role, and the form to join."""
    found = await services(request).team.check_invitation(token[:2048])
    return render(request, "invitation.html", {"invitation": found, "token": token})


@router.post("/invitation")
async def accept(request: Request) -> Response:
    form = await checked_form(request)
    token = text(form, "token", 2048)
    try:
        email = await services(request).team.accept_invitation(
            token,
            name=text(form, "name", 200),
            password=text(form, "password", 1024),
            phone=text(form, "phone", 32) or None,
        )
    except ServiceError as exc:
        found = await services(request).team.check_invitation(token)
        context = {"invitation": found, "token": token, "error": str(exc)}
        return render(request, "invitation.html", context, status=400)
    text_ = f"{email} has joined the team: sign in."
    return render(request, "notice.html", {"title": "Welcome", "text": text_})
