"""The HTTP application with the REST v1 face; the composition root mounts other faces on it."""

from __future__ import annotations

from fastapi import FastAPI

from jumbe.faces import openapi
from jumbe.faces.rest import (
    contacts,
    docs,
    envelope,
    health,
    messages,
    senders,
    signup,
    sims,
    staff,
    suppressions,
    team,
    templates,
    tokens,
    topups,
)
from jumbe.faces.rest.health import CarrierStatus, Readiness, RefreshMetrics
from jumbe.services import Services

DESCRIPTION = """
Jumbe's native REST API (v1), compatible with the Mobile Sasa REST API.

Authenticate every call with an API token, as `Authorization: Bearer <token>`
or `X-API-Key: <token>`; token management also takes a sign-in session (a JWT
from `POST /api/v1/auth/login`), and the team API only takes one. Every answer is an envelope:
`{"success": true, "data": …}` or `{"success": false, "error": "…"}`.
"""


def create_app(
    services: Services,
    *,
    readiness: Readiness,
    refresh_metrics: RefreshMetrics,
    carriers: CarrierStatus,
) -> FastAPI:
    app = FastAPI(
        title="Jumbe",
        version="1.0",
        description=DESCRIPTION,
        docs_url=None,  # served by faces.rest.docs from local files
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    app.state.readiness = readiness
    app.state.refresh_metrics = refresh_metrics
    app.state.carriers = carriers
    envelope.install(app)
    openapi.install(app)
    docs.install(app)
    app.include_router(messages.router)
    app.include_router(tokens.router)
    app.include_router(sims.router)
    app.include_router(signup.router)
    app.include_router(team.router)
    app.include_router(staff.router)
    app.include_router(senders.router)
    app.include_router(topups.router)
    app.include_router(contacts.router)
    app.include_router(templates.router)
    app.include_router(suppressions.router)
    app.include_router(health.router)
    return app
