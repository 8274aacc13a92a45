"""What every portal page shares: templates, the session and CSRF cookies, errors as pages.

The portal signs people in with the same JWT sessions as the REST face
(``services.sessions``), carried in an HTTP-only, SameSite=Lax cookie (and
Secure when the page came over https), so no script ever sees one. Every
form carries a CSRF token: a random value kept in its own HTTP-only cookie,
replaced at sign-in and sign-out (one per session), and checked on every
POST. SameSite=Lax already keeps other sites' forms from sending the
session; the token also covers older browsers and same-site subdomains.
"""

from __future__ import annotations

import hmac
import html
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.datastructures import FormData

from jumbe.core.isotime import iso
from jumbe.core.sender_names import ANY_CARRIER
from jumbe.faces.state import services_of
from jumbe.services import Services, roles
from jumbe.services.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceError,
    TooManyAttempts,
    Unauthenticated,
)
from jumbe.services.signed_tokens import IssuedSession
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import Caller

HERE = Path(__file__).parent
SESSION_COOKIE = "jumbe_session"
STAFF_COOKIE = "jumbe_staff"
CSRF_COOKIE = "jumbe_csrf"
CSRF_FIELD = "csrf"
SIGN_IN = "/signin"
STAFF_SIGN_IN = "/staff/signin"

templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)
templates.env.filters["iso"] = lambda value: iso(value) if value is not None else ""
templates.env.filters["carrier"] = lambda slug: "any carrier" if slug == ANY_CARRIER else slug


class PortalRoute(APIRoute):
    """A page route: a service's refusal becomes a page, never the REST envelope.

    An ended or missing session sends the browser to sign in; anything else
    refused is shown with the service's own words and its HTTP status.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthenticated:
                staff = request.url.path.startswith("/staff")
                target = STAFF_SIGN_IN if staff else SIGN_IN
                answer = RedirectResponse(f"{target}?next={quote(request.url.path)}", 303)
                answer.delete_cookie(STAFF_COOKIE if staff else SESSION_COOKIE, path="/")
                return answer
            except ServiceError as exc:
                return render(request, "error.html", {"error": str(exc)}, status=_status(exc))

        return page


def _status(exc: ServiceError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, TooManyAttempts):
        return 429
    return 400


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """A page, with the CSRF token its forms carry (and the cookie holding it, if new)."""
    token = request.cookies.get(CSRF_COOKIE) or ""
    fresh = not token
    if fresh:
        token = secrets.token_urlsafe(32)
    values = {
        "csrf": token,
        "me": getattr(request.state, "me", None),
        "staff": getattr(request.state, "staff", None),
        **(context or {}),
    }
    answer: HTMLResponse = templates.TemplateResponse(request, template, values, status_code=status)
    if fresh:
        set_cookie(request, answer, CSRF_COOKIE, token)
    answer.headers["Cache-Control"] = "no-store"
    answer.headers["X-Frame-Options"] = "DENY"
    answer.headers["Referrer-Policy"] = "same-origin"
    answer.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    )
    return answer


def set_cookie(
    request: Request, answer: Response, name: str, value: str, max_age: int | None = None
) -> None:
    answer.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=request.url.scheme == "https" or getattr(request.app.state, "portal_https", False),
        httponly=True,
        samesite="lax",
    )


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def new_csrf(request: Request, answer: Response) -> None:
    """A new session gets a new CSRF token: a token seen before sign-in is worth nothing after."""
    set_cookie(request, answer, CSRF_COOKIE, secrets.token_urlsafe(32))


async def checked_form(request: Request, *, max_files: int = 0) -> FormData:
    """The POSTed form, once its CSRF token matches the cookie's."""
    form = await request.form(max_files=max_files, max_fields=32)
    sent = form.get(CSRF_FIELD)
    held = request.cookies.get(CSRF_COOKIE, "")
    if not held or not isinstance(sent, str) or not hmac.compare_digest(sent, held):
        await form.close()
        raise Forbidden("this form has expired or did not come from Jumbe: reload the page")
    return form


def text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be text")
    if len(value) > limit:
        raise InvalidRequest(f"{name} is longer than {limit} characters")
    return value.strip()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def services(request: Request) -> Services:
    return services_of(request)


async def member(request: Request, permission: str = "view") -> Caller:
    """The signed-in member, with ``permission`` of their role; else off to sign in."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    if not raw:
        raise Unauthenticated("sign in first")
    found = services(request)
    caller = await found.sessions.authenticate(raw)
    request.state.me = await found.sessions.me(raw)
    roles.require(caller.role or "", permission)
    return caller


async def staff_member(request: Request) -> StaffCaller:
    """A member of the operator's staff: a customer's session is not one (another audience)."""
    raw = request.cookies.get(STAFF_COOKIE, "")
    if not raw:
        raise Unauthenticated("staff sign in first")
    staff = await services(request).staff.authenticate(raw)
    request.state.staff = staff
    return staff


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def refuse(status: int, reason: str) -> Response:
    """A request refused before any page handled it (too large, too slow): a page too."""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Refused · Jumbe</title></head><body><main><h1>That did not work</h1>"
        f'<p>{html.escape(reason)}</p><p><a href="/">Start again</a></p></main></body></html>'
    )
    return HTMLResponse(page, status_code=status)


Login = Callable[[str, str, str], Awaitable[IssuedSession]]  # email, password, client


async def sign_in(
    request: Request, login: Login, *, template: str, cookie: str, home: str
) -> Response:
    """A sign-in form's POST: the session in ``cookie`` and a new CSRF token, or the form
    again with the service's words. ``next`` stays below ``home``'s section."""
    form = await checked_form(request)
    email = text(form, "email", 320)
    target = safe_next(text(form, "next"), home)
    if not target.startswith(home.rsplit("/", 1)[0] + "/"):
        target = home
    try:
        session = await login(email, text(form, "password", 1024), client_address(request))
    except ServiceError as exc:
        context = {"error": str(exc), "email": email, "next": target}
        return render(request, template, context, status=401)
    answer = redirect(target)
    set_cookie(request, answer, cookie, session.token, max_age=session.expires_in)
    new_csrf(request, answer)
    return answer


MAIL_SENT = "If that email has an account that needs it, a mail is on its way."


async def mail_link(request: Request, send: Callable[[str, str], Awaitable[None]]) -> Response:
    """A form asking for a mailed link: the same answer whether the email has an account."""
    form = await checked_form(request)
    await send(text(form, "email", 320), client_address(request))
    return render(request, "notice.html", {"title": "Check your mail", "text": MAIL_SENT})
