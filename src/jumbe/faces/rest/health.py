"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
RefreshMetrics = Callable[[], Awaitable[None]]


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable and at least one carrier connector bound")
async def readyz(request: Request) -> JSONResponse:
    ready, details = await request.app.state.readiness()
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **details}, status_code=200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request) -> Response:
    await request.app.state.refresh_metrics()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
