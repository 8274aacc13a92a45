"""Signing up, verifying an email, signing in and out, resetting a password: as pages.

The same services as ``POST /api/v1/auth/...``; only the answers differ (a
page, a redirect, the form again with the service's words).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from jumbe.faces.portal.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SIGN_IN,
    PortalRoute,
    checked_form,
    client_address,
    mail_link,
    redirect,
    render,
    safe_next,
    services,
    sign_in,
    text,
)
from jumbe.services.errors import ServiceError
from jumbe.services.signed_tokens import IssuedSession

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

HOME = "/dashboard"

SIGN_UP_FIELDS = ("organisation", "name", "email", "phone")


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    return render(request, "signup.html", {"form": {}})


@router.post("/signup")
async def signup(request: Request) -> Response:
    form = await checked_form(request)
    values = {f: text(form, f, 320) for f in SIGN_UP_FIELDS}
    try:
        registered = await services(request).signup.register(
            **values, password=text(form, "password", 1024), client=client_address(request)
        )
    except ServiceError as exc:
        return render(request, "signup.html", {"form": values, "error": str(exc)}, status=400)
    return render(request, "signup_done.html", {"email": registered.email})


@router.get("/verify")
async def verify(request: Request, token: str = "") -> Response:
    """The mailed link lands here: opening it verifies the email."""
    try:
        email = await services(request).signup.verify_email(token[:2048])
    except ServiceError as exc:
        return render(request, "verify.html", {"error": str(exc)}, status=400)
    return render(request, "verify.html", {"email": email})


@router.post("/verify/resend")
async def resend(request: Request) -> Response:
    found = services(request).signup

    async def send(email: str, client: str) -> None:
        await found.resend_verification(email, client=client)

    return await mail_link(request, send)


@router.get("/signin")
async def signin_page(request: Request, next: str = "") -> Response:
    return render(request, "signin.html", {"next": safe_next(next, HOME)})


@router.post("/signin")
async def signin(request: Request) -> Response:
    found = services(request).sessions

    async def login(email: str, password: str, client: str) -> IssuedSession:
        return (await found.login(email, password, client=client)).session

    return await sign_in(request, login, template="signin.html", cookie=SESSION_COOKIE, home=HOME)


@router.post("/signout")
async def signout(request: Request) -> Response:
    await checked_form(request)
    answer = redirect(SIGN_IN)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    answer.delete_cookie(CSRF_COOKIE, path="/")
    return answer


@router.get("/reset")
async def reset_page(request: Request, token: str = "") -> Response:
    """Without a token: ask for a link. With one (the mailed link): choose a new password."""
    if not token:
        return render(request, "reset_request.html")
    try:
        link = await services(request).signup.check_reset(token[:2048])
    except ServiceError as exc:
        return render(request, "reset_request.html", {"error": str(exc)}, status=400)
    return render(request, "reset_confirm.html", {"email": link.email, "token": token})


@router.post("/reset")
async def reset_request(request: Request) -> Response:
    found = services(request).signup

    async def send(email: str, client: str) -> None:
        await found.request_password_reset(email, client=client)

    return await mail_link(request, send)


@router.post("/reset/confirm")
async def reset_confirm(request: Request) -> Response:
    form = await checked_form(request)
    token = text(form, "token", 2048)
    try:
        email = await services(request).signup.reset_password(token, text(form, "password", 1024))
    except ServiceError as exc:
        context = {"error": str(exc), "token": token, "email": ""}
        return render(request, "reset_confirm.html", context, status=400)
    return render(
        request,
        "notice.html",
        {"title": "Password changed", "text": f"{email} has a new password: sign in with it."},
    )
