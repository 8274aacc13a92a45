"""The operator's staff API: sign-in, setting a password by link, and every account.

Staff sessions are a separate audience signed with a separate key: a
customer's session is refused here (401) whatever its role, and a staff
session is refused on every customer endpoint. ``require_staff`` guards
every route here but sign-in and the password link.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import client_address, require_staff
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import (
    AccountOut,
    Page,
    PasswordChanged,
    Session,
    StaffPasswordLink,
    documented,
)
from jumbe.faces.rest.signup import Credentials, NewPassword, TokenQuery, render_session
from jumbe.services.accounts import AccountSummary
from jumbe.services.staff import PASSWORD_PATH, StaffCaller

router = APIRouter(tags=["staff"])


def render_account(a: AccountSummary) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "team_code": a.team_code,
        "account_number": a.vpn_group,
        "status": a.status,
        "owners": list(a.owners),
        "created_at": iso(a.created_at),
    }


@router.post(
    "/api/v1/staff/login",
    summary="Staff sign-in: a staff session (JWT)",
    **documented(Session, 401, authenticated=False),
)
async def login(body: Credentials, request: Request) -> dict[str, Any]:
    session = await request.app.state.services.staff.login(
        body.email, body.password, client=client_address(request)
    )
    return ok(render_session(session))


@router.get(
    PASSWORD_PATH,
    summary="Check a staff set-password link",
    **documented(StaffPasswordLink, authenticated=False),
)
async def check_password_link(token: TokenQuery, request: Request) -> dict[str, Any]:
    email = await request.app.state.services.staff.check_password_link(token)
    return ok({"email": email, "next": f"POST {PASSWORD_PATH} with the token and a password"})


@router.post(
    PASSWORD_PATH,
    summary="Set a staff password with the link's token",
    **documented(PasswordChanged, authenticated=False),
)
async def set_password(body: NewPassword, request: Request) -> dict[str, Any]:
    email = await request.app.state.services.staff.set_password(body.token, body.password)
    return ok({"email": email, "password_changed": True})


@router.get(
    "/api/v1/staff/accounts",
    summary="Every account: search and page (staff only)",
    **documented(Page[AccountOut]),
)
async def accounts(
    request: Request,
    staff: StaffCaller = Depends(require_staff),
    search: Annotated[str, Query(max_length=120)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    found, total = await request.app.state.services.accounts.search(
        staff, search=search, page=page, page_size=page_size
    )
    return paged([render_account(a) for a in found], page=page, page_size=page_size, total=total)
