"""Who is calling the REST face: API tokens with scopes, sign-in sessions, staff sessions.

The Mobile Sasa document accepts a JWT session only where it says so
("or a JWT session": managing API tokens); everywhere else a session is
refused with a 401 that says an API token is wanted. The team API takes
sessions only (a team is managed by people), and the staff API takes staff
sessions only, which are signed for another audience with another key: a
customer's session never passes there, nor a staff session here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from jumbe.faces.state import services_of
from jumbe.services import roles
from jumbe.services.errors import Forbidden, Unauthenticated
from jumbe.services.sessions import looks_like_session
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import Caller

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="API token (Authorization: Bearer jmb_…) or, where accepted, a sign-in session",
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API token in X-API-Key")

SIGN_IN = "POST /api/v1/auth/login"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require(
    scope: str, *, session: bool = False, permission: str | None = None
) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the caller and insists on ``scope``.

    ``session``: a member's sign-in session is accepted too, with the scopes
    their role may use; with ``permission``, a member needs that permission of
    their role (``services.roles``) instead of the scope.
    """

    async def caller(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
        api_key: str | None = Security(_api_key),
    ) -> Caller:
        raw = bearer.credentials if bearer is not None else api_key
        services = services_of(request)
        found: Caller
        if raw and looks_like_session(raw):
            if not session:
                raise Unauthenticated("this endpoint takes an API token, not a sign-in session")
            found = await services.sessions.authenticate(raw)
            if permission is not None and found.role is not None:
                roles.require(found.role, permission)
                return found
        else:
            found = await services.tokens.authenticate_token(raw, client=client_address(request))
        if not found.has_scope(scope):
            raise Forbidden(found.lacks(scope))
        return found

    return caller


def scope(name: str, *, session: bool = False, permission: str | None = None) -> Caller:
    """Use as a parameter default: ``caller: Caller = scope("messages")``."""
    # FastAPI swaps this marker for the caller; the cast is what the handler's signature sees
    return cast(Caller, Depends(require(name, session=session, permission=permission)))


async def signed_in(
    request: Request, bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> Caller:
    """A member's sign-in session (no API token): for the team API."""
    raw = bearer.credentials if bearer is not None else ""
    if not raw:
        raise Unauthenticated(f"sign in first ({SIGN_IN}) and send Authorization: Bearer <token>")
    if not looks_like_session(raw):
        raise Unauthenticated(
            f"this endpoint takes a sign-in session ({SIGN_IN}), not an API token"
        )
    member: Caller = await services_of(request).sessions.authenticate(raw)
    return member


async def require_staff(
    request: Request, bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> StaffCaller:
    """A member of the operator's staff, signed in at ``POST /api/v1/staff/login``."""
    raw = bearer.credentials if bearer is not None else ""
    if not raw:
        raise Unauthenticated("staff sign in first (POST /api/v1/staff/login)")
    staff: StaffCaller = await services_of(request).staff.authenticate(raw)
    return staff
