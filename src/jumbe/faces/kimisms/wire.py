"""What every Kimisms answer shares: the error body, the caller, the request body.

Errors are ``{"error": …, "description": …}`` with the document's codes (400
missing or invalid fields, 401 invalid or expired token, 403 invalid
credentials, 429 with ``Retry-After``). Bodies are parsed here rather than by
FastAPI, so a malformed one is answered in this shape, not the REST envelope's.
"""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from jumbe.faces.state import services_of
from jumbe.services.errors import TooManyAttempts, Unauthenticated
from jumbe.services.oauth import OAuthCaller

Model = TypeVar("Model", bound=BaseModel)


class Refused(Exception):
    """An answer in the face's error shape, raised where the request cannot go on."""

    def __init__(
        self, status: int, error: str, description: str, retry_after: int | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.retry_after = retry_after


def error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "description": description}, status_code=status, headers=headers
    )


def refused(exc: Refused) -> JSONResponse:
    headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
    return error(exc.status, exc.error, exc.description, headers)


def too_many_requests(exc: TooManyAttempts) -> JSONResponse:
    return error(429, "Too many requests", exc.message, {"Retry-After": str(exc.retry_after)})


def refuse(status: int, message: str) -> JSONResponse:
    """A request the server will not read (too large, too slow), in this face's shape."""
    return error(status, "Bad request" if status < 500 else "Server error", message)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def caller(request: Request) -> OAuthCaller:
    """The account behind the bearer access token; Refused 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "Unauthorized", "Missing access token: send Authorization: Bearer")
    try:
        return await services_of(request).kimisms_oauth.authenticate(
            token.strip(), client=client_address(request)
        )
    except Unauthenticated as exc:
        raise Refused(401, "Unauthorized", "Invalid or expired access token") from exc
    except TooManyAttempts as exc:
        raise Refused(429, "Too many requests", exc.message, exc.retry_after) from exc


async def parsed(request: Request, model: type[Model]) -> Model:
    """The JSON body as ``model``; Refused 400 with what is wrong."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, "Invalid request", "request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise Refused(400, "Invalid request", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        missing = [
            ".".join(str(p) for p in e["loc"]) for e in exc.errors() if e["type"] == "missing"
        ]
        if missing:
            raise Refused(400, f"Missing {missing[0]}", f"{missing[0]} is required") from exc
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise Refused(400, "Invalid request", f"{field}: {first['msg']}") from exc
