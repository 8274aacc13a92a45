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


class Alive(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ready", "not ready"]
    database: str
    connectors: dict[str, str]


READINESS = {"model": ReadinessOut}


@router.get("/healthz", summary="The process is alive", response_model=Alive)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database reachable and at least one carrier connector bound",
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
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def prometheus(request: Request) -> Response:
    await request.app.state.refresh_metrics()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
