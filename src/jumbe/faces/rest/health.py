"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

router = APIRouter(tags=["operations"])

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
RefreshMetrics = Callable[[], Awaitable[None]]


class CarrierLink(BaseModel):
    """One connector on this node: whether it can send, and how much."""

    name: str
    state: Literal["bound", "connecting", "down"]
    binds_up: int
    binds: int
    tps: float
    queued: int


class CarrierLinks(BaseModel):
    node: str
    connectors: list[CarrierLink]


CarrierStatus = Callable[[], CarrierLinks]


class Alive(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ready", "not ready"]
    database: str
    migrations: str


READINESS = {"model": ReadinessOut}


@router.get("/healthz", summary="The process is alive", response_model=Alive)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="This node can accept: database reachable, schema migrated",
    description="Whether a load balancer should send requests here. A node accepts"
    " (and another may send) while its own carrier links are down: their health is"
    " `/status/carriers` and the `jumbe_connector_*` metrics.",
    responses={
        200: {**READINESS, "description": "Ready"},
        503: {**READINESS, "description": "Not ready: the details say what is missing"},
    },
)
async def readyz(request: Request) -> JSONResponse:
    ready, details = await request.app.state.readiness()
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **details}, status_code=200 if ready else 503
    )


@router.get(
    "/status/carriers",
    summary="This node's carrier links",
    response_model=CarrierLinks,
)
async def carriers(request: Request) -> CarrierLinks:
    status: CarrierLinks = request.app.state.carriers()
    return status


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def prometheus(request: Request) -> Response:
    await request.app.state.refresh_metrics()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
