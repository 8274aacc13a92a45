"""The one OpenAPI document of every HTTP face, made to say what the faces answer.

FastAPI declares 422 with its own error body on every route that validates
input, but no face answers 422: the REST face answers 400 in its envelope and
the others in their own formats (each route declares its statuses). So 422 and
its schemas are taken out, and the Daraja faces' security schemes put in.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from jumbe.faces.daraja.schemas import SECURITY_SCHEMES

_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def document(app: FastAPI) -> dict[str, Any]:
    """``app.openapi``: built once, on first request, from every route then mounted."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = spec.setdefault("components", {})
    schemas = components.get("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    app.openapi_schema = spec
    return spec


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
