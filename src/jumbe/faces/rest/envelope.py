"""The REST v1 envelope and the mapping of service errors to HTTP statuses.

Every answer is ``{"success": true, "data": …}`` or
``{"success": false, "error": "…"}``, including validation failures, unknown
routes and the unexpected, so clients can always check ``success`` first.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jumbe.services import errors

log = logging.getLogger(__name__)

HTTP_STATUS = {
    errors.InvalidRequest: 400,
    errors.Unauthenticated: 401,
    errors.InsufficientBalance: 402,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooManyAttempts: 429,
}


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def paged(items: list[Any], *, page: int, page_size: int, total: int) -> dict[str, Any]:
    """A page of a list, as every list in the API answers."""
    return ok(
        {
            "items": items,
            "page": page,
            "page_size": page_size,
            "total": total,
            "total_pages": math.ceil(total / page_size),
        }
    )


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status, headers=headers)


def status_for(exc: errors.ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def describe_validation(exc: RequestValidationError) -> str:
    """One readable sentence from pydantic's error list."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "json_invalid":
            return "request body is not valid JSON"
        if err.get("type") == "missing":
            message = "is required"
        parts.append(f"{where} {message}".strip() if where else message)
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ServiceError)
    async def _service_error(_request: Request, exc: errors.ServiceError) -> JSONResponse:
        headers = None
        if isinstance(exc, errors.Unauthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, errors.TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
        return failure(status_for(exc), exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return failure(400, describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "Not found"
        return failure(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return failure(500, "Internal server error")


def encode(data: Any) -> Any:
    return jsonable_encoder(data)
