"""The HTTP application with the REST v1 face; the composition root mounts other faces on it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from jumbe.core.client_address import IPNetwork
from jumbe.faces.rest import envelope, health, messages, sims, tokens
from jumbe.faces.rest.client_address import ClientAddressMiddleware
from jumbe.faces.rest.health import Readiness, RefreshMetrics
from jumbe.services import Services

DESCRIPTION = """
Jumbe's native REST API (v1), compatible with the Mobile Sasa REST API.

Authenticate every call with an API token, as `Authorization: Bearer <token>`
or `X-API-Key: <token>`. Every answer is an envelope:
`{"success": true, "data": …}` or `{"success": false, "error": "…"}`.
"""


def create_app(
    services: Services,
    *,
    readiness: Readiness,
    refresh_metrics: RefreshMetrics,
    trusted_proxies: Sequence[IPNetwork] = (),
    forwarded_header: str = "x-forwarded-for",
) -> FastAPI:
    app = FastAPI(
        title="Jumbe",
        version="1.0",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    app.state.readiness = readiness
    app.state.refresh_metrics = refresh_metrics
    envelope.install(app)
    if trusted_proxies:  # without any, the peer is the client: nothing to do per request
        app.add_middleware(
            ClientAddressMiddleware, trusted=trusted_proxies, header=forwarded_header
        )
    app.include_router(messages.router)
    app.include_router(tokens.router)
    app.include_router(sims.router)
    app.include_router(health.router)
    return app
