"""The team API: members, invitations, roles (behind a member's sign-in session).

Not in the Mobile Sasa document; Jumbe's own, in the same envelope. What each
role may do is ``services.roles``; this module only translates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import signed_in
from jumbe.faces.rest.envelope import ok
from jumbe.faces.rest.schemas import MemberOut, Removed, documented
from jumbe.services.team import Member
from jumbe.services.tokens import Caller

router = APIRouter(prefix="/api/v1/team", tags=["team"])


class Invite(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "otieno@acme.example", "role": "member"}]}
    )
    email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    role: str = Field(max_length=16)


class RoleChange(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "admin"}]})
    role: str = Field(max_length=16)


def render(m: Member) -> dict[str, Any]:
    return {
        "uuid": m.uuid,
        "email": m.email,
        "name": m.name,
        "phone": m.phone,
        "role": m.role,
        "status": m.status,
        "created_at": iso(m.created_at),
    }


@router.get(
    "/members",
    summary="The team's members and pending invitations",
    **documented(list[MemberOut]),
)
async def list_members(request: Request, member: Caller = Depends(signed_in)) -> dict[str, Any]:
    members = await request.app.state.services.team.list_members(member)
    return ok([render(m) for m in members])


@router.post(
    "/members", summary="Invite someone by email with a role", **documented(MemberOut, 409)
)
async def invite(
    body: Invite, request: Request, member: Caller = Depends(signed_in)
) -> dict[str, Any]:
    invited = await request.app.state.services.team.invite(member, body.email, body.role)
    return ok(render(invited))


@router.patch(
    "/members/{uuid}", summary="Change a member's role", **documented(MemberOut, 404, 409)
)
async def change_role(
    uuid: str, body: RoleChange, request: Request, member: Caller = Depends(signed_in)
) -> dict[str, Any]:
    changed = await request.app.state.services.team.change_role(member, uuid, body.role)
    return ok(render(changed))


@router.delete(
    "/members/{uuid}",
    summary="Remove a member or cancel an invitation",
    **documented(Removed, 404, 409),
)
async def remove(
    uuid: str, request: Request, member: Caller = Depends(signed_in)
) -> dict[str, Any]:
    await request.app.state.services.team.remove_member(member, uuid)
    return ok({"uuid": uuid, "removed": True})
