"""Sign-up and sign-in over REST: register, verify, sign in, reset a password, accept an invitation.

None of these is in the Mobile Sasa document, which says only that "JWTs are
issued at login and are intended for the dashboard UI"; they are Jumbe's own,
in the same envelope. The links mailed to people land on the GET routes:
verifying an email is done by opening its link; a reset or invitation link
answers what it is for (the portal will show a form there) and is used by
POSTing its token with the new password.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import bearer_scheme, client_address
from jumbe.faces.rest.envelope import ok
from jumbe.faces.rest.schemas import (
    Accepted,
    InvitationOut,
    MeOut,
    PasswordChanged,
    Registered,
    ResetLink,
    Sent,
    SignedIn,
    Verified,
    documented,
)
from jumbe.services import Services
from jumbe.services.errors import Unauthenticated
from jumbe.services.sessions import Me
from jumbe.services.signed_tokens import IssuedSession
from jumbe.services.signup import RESET_PATH, VERIFY_PATH
from jumbe.services.team import INVITATION_PATH

router = APIRouter(tags=["sign-up and sign-in"])

Email = Annotated[str, Field(max_length=320, json_schema_extra={"format": "email"})]
Password = Annotated[str, Field(max_length=1024)]
Token = Annotated[str, Field(max_length=2048)]
TokenQuery = Annotated[str, Query(max_length=2048, description="the token from the mailed link")]

SENT = "if that email has an account that needs it, a mail is on its way"


def _example(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


class Register(BaseModel):
    model_config = _example(
        organisation="Acme Logistics",
        name="Wanjiku Kamau",
        email="wanjiku@acme.example",
        phone="+254712345678",
        password="correct horse battery staple",
    )
    organisation: str = Field(max_length=200)
    name: str = Field(max_length=200)
    email: Email
    phone: str = Field(max_length=32)
    password: Password


class Credentials(BaseModel):
    model_config = _example(email="wanjiku@acme.example", password="correct horse battery staple")
    email: Email
    password: Password


class AnEmail(BaseModel):
    model_config = _example(email="wanjiku@acme.example")
    email: Email


class AToken(BaseModel):
    model_config = _example(token="the token from the mailed link")
    token: Token


class NewPassword(BaseModel):
    model_config = _example(
        token="the token from the mailed link", password="correct horse battery staple"
    )
    token: Token
    password: Password


class Acceptance(BaseModel):
    model_config = _example(
        token="the token from the mailed link",
        name="Otieno Odhiambo",
        password="correct horse battery staple",
        phone="+254722000000",
    )
    token: Token
    name: str = Field(max_length=200)
    password: Password
    phone: str | None = Field(default=None, max_length=32)


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def render_session(session: IssuedSession) -> dict[str, Any]:
    return {
        "access_token": session.token,
        "token_type": "Bearer",
        "expires_in": session.expires_in,
        "expires_at": iso(session.expires_at),
    }


def _wants_a_page(request: Request) -> bool:
    """A browser (it asks for HTML first), not an API client: the mailed links open pages."""
    return request.headers.get("accept", "").startswith("text/html")


def render_me(me: Me) -> dict[str, Any]:
    return {
        "uuid": me.uuid,
        "email": me.email,
        "name": me.name,
        "role": me.role,
        "permissions": list(me.permissions),
        "account": {"name": me.account_name, "team_code": me.team_code},
    }


@router.post(
    "/api/v1/auth/register",
    summary="Register an organisation and its owner",
    **documented(Registered, 409, authenticated=False),
)
async def register(body: Register, request: Request) -> dict[str, Any]:
    registered = await _services(request).signup.register(
        organisation=body.organisation,
        name=body.name,
        email=body.email,
        phone=body.phone,
        password=body.password,
        client=client_address(request),
    )
    return ok(
        {
            "email": registered.email,
            "account": {"name": registered.account_name, "team_code": registered.team_code},
            "verified": False,
            "next": "open the link mailed to you to verify your email, then sign in",
        }
    )


@router.get(
    VERIFY_PATH,
    summary="Verify an email: the link mailed after registration",
    **documented(Verified, authenticated=False),
)
async def verify_by_link(token: TokenQuery, request: Request) -> Any:
    """A browser opening the mailed link lands on the portal's page, which verifies it."""
    if _wants_a_page(request):
        return RedirectResponse(f"/verify?{urlencode({'token': token})}", status_code=303)
    email = await _services(request).signup.verify_email(token)
    return ok({"email": email, "verified": True})


@router.post(
    VERIFY_PATH,
    summary="Verify an email with the token of its link",
    **documented(Verified, authenticated=False),
)
async def verify(body: AToken, request: Request) -> dict[str, Any]:
    email = await _services(request).signup.verify_email(body.token)
    return ok({"email": email, "verified": True})


@router.post(
    f"{VERIFY_PATH}/resend",
    summary="Mail another verification link",
    **documented(Sent, authenticated=False),
)
async def resend_verification(body: AnEmail, request: Request) -> dict[str, Any]:
    await _services(request).signup.resend_verification(body.email, client=client_address(request))
    return ok({"sent": SENT})


@router.post(
    "/api/v1/auth/login",
    summary="Sign in: a short-lived JWT session",
    **documented(SignedIn, 401, 403, authenticated=False),
)
async def login(body: Credentials, request: Request) -> dict[str, Any]:
    signed_in = await _services(request).sessions.login(
        body.email, body.password, client=client_address(request)
    )
    return ok({**render_session(signed_in.session), "user": render_me(signed_in.me)})


@router.get(
    "/api/v1/auth/me",
    summary="Who a session belongs to, with their permissions",
    **documented(MeOut),
)
async def me(
    request: Request, bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> dict[str, Any]:
    if bearer is None:
        raise Unauthenticated("sign in first (POST /api/v1/auth/login)")
    return ok(render_me(await _services(request).sessions.me(bearer.credentials)))


@router.post(
    RESET_PATH,
    summary="Ask for a password reset link (same answer for any email)",
    **documented(Sent, authenticated=False),
)
async def request_reset(body: AnEmail, request: Request) -> dict[str, Any]:
    await _services(request).signup.request_password_reset(
        body.email, client=client_address(request)
    )
    return ok({"sent": SENT})


@router.get(
    RESET_PATH,
    summary="Check a reset link: whose password it would set, until when",
    **documented(ResetLink, authenticated=False),
)
async def check_reset(token: TokenQuery, request: Request) -> Any:
    if _wants_a_page(request):
        return RedirectResponse(f"/reset?{urlencode({'token': token})}", status_code=303)
    link = await _services(request).signup.check_reset(token)
    return ok(
        {
            "email": link.email,
            "expires_at": iso(link.expires_at),
            "next": f"POST {RESET_PATH}/confirm with the token and the new password",
        }
    )


@router.post(
    f"{RESET_PATH}/confirm",
    summary="Set a new password with a reset link's token",
    **documented(PasswordChanged, authenticated=False),
)
async def reset(body: NewPassword, request: Request) -> dict[str, Any]:
    email = await _services(request).signup.reset_password(body.token, body.password)
    return ok({"email": email, "password_changed": True})


@router.get(
    INVITATION_PATH,
    summary="Check an invitation: which team, which role",
    **documented(InvitationOut, authenticated=False),
)
async def check_invitation(token: TokenQuery, request: Request) -> Any:
    if _wants_a_page(request):
        return RedirectResponse(f"/invitation?{urlencode({'token': token})}", status_code=303)
    invitation = await _services(request).team.check_invitation(token)
    return ok(
        {
            "email": invitation.email,
            "account": {"name": invitation.account_name},
            "role": invitation.role,
            "expires_at": iso(invitation.expires_at),
            "next": f"POST {INVITATION_PATH}/accept with the token, your name and a password",
        }
    )


@router.post(
    f"{INVITATION_PATH}/accept",
    summary="Accept an invitation: name and password",
    **documented(Accepted, 409, authenticated=False),
)
async def accept_invitation(body: Acceptance, request: Request) -> dict[str, Any]:
    email = await _services(request).team.accept_invitation(
        body.token, name=body.name, password=body.password, phone=body.phone
    )
    return ok({"email": email, "accepted": True, "next": "sign in"})
