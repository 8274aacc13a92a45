"""API token authentication and scopes for the REST face."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from jumbe.services.errors import Forbidden
from jumbe.services.tokens import Caller

_bearer = HTTPBearer(auto_error=False, description="API token: Authorization: Bearer jmb_…")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API token in X-API-Key")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require(scope: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the token and insists on ``scope``."""

    async def caller(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
        api_key: str | None = Security(_api_key),
    ) -> Caller:
        raw = bearer.credentials if bearer is not None else api_key
        tokens = request.app.state.services.tokens
        found: Caller = await tokens.authenticate_token(raw, client=client_address(request))
        if not found.has_scope(scope):
            raise Forbidden(f"Forbidden: this token lacks the '{scope}' scope")
        return found

    return caller


def scope(name: str) -> Caller:
    """Use as a parameter default: ``caller: Caller = scope("messages")``."""
    return Depends(require(name))
