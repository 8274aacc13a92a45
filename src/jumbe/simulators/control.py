"""HTTP control of a running carrier simulator: inject MOs, drop binds, change behaviour.

Tests of a standalone simulator (another process) need the same levers the in-process tests
get from the CarrierSimulator object; a shared token keeps anyone else on the network off them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator

__all__ = ["control_router", "run_standalone"]

_log = logging.getLogger(__name__)


class MoRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    sender: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    text: str


class BehaviourPatch(BaseModel):
    """Every field optional: a PUT changes only what it names."""

    model_config = ConfigDict(extra="forbid")

    receipt_delay: float | None = Field(default=None, ge=0)
    undeliverable_suffixes: tuple[str, ...] | None = None
    rejected_suffixes: tuple[str, ...] | None = None
    expired_suffixes: tuple[str, ...] | None = None
    silent_suffixes: tuple[str, ...] | None = None
    failure_ratio: float | None = Field(default=None, ge=0, le=1)
    max_tps: float | None = Field(default=None, ge=0)  # 0: throttle everything
    seed: int | None = None


# Fields where an explicit null means "unset" rather than "leave alone".
_NULLABLE = frozenset({"max_tps", "seed"})


def control_router(simulator: CarrierSimulator, token: str) -> APIRouter:
    def require_token(x_simulator_token: str | None = Header(default=None)) -> None:
        if x_simulator_token is None or not hmac.compare_digest(
            x_simulator_token.encode(), token.encode()
        ):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or missing simulator token")

    router = APIRouter(prefix="/simulator", dependencies=[Depends(require_token)])

    @router.post("/mo", status_code=status.HTTP_202_ACCEPTED)
    async def inject_mo(body: MoRequest) -> dict[str, str]:
        await simulator.inject_mo(body.sender, body.to, body.text)
        return {"status": "queued"}

    @router.post("/drop-binds")
    async def drop_binds() -> dict[str, int]:
        return {"dropped": await simulator.drop_binds()}

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return simulator.stats()

    @router.put("/behaviour")
    async def update_behaviour(body: BehaviourPatch) -> dict[str, Any]:
        changes = {
            name: value
            for name, value in body.model_dump(exclude_unset=True).items()
            if value is not None or name in _NULLABLE
        }
        simulator.behaviour = dataclasses.replace(simulator.behaviour, **changes)
        return dataclasses.asdict(simulator.behaviour)

    return router


async def run_standalone(
    host: str,
    port: int,
    control_host: str,
    control_port: int,
    system_id: str,
    password: str,
    behaviour: CarrierBehaviour,
    token: str,
    submission_log: Path | None = None,
    window: int = 10,
) -> None:
    """Serve SMPP on host:port and the control API on control_host:control_port until cancelled
    (or until uvicorn sees SIGINT/SIGTERM)."""
    import uvicorn  # only the standalone process needs an HTTP server

    simulator = CarrierSimulator(
        host=host,
        port=port,
        system_id=system_id,
        password=password,
        behaviour=behaviour,
        submission_log=submission_log,
        window=window,
    )
    await simulator.start()
    app = FastAPI(title="Jumbe carrier simulator")
    app.include_router(control_router(simulator, token))
    server = uvicorn.Server(
        uvicorn.Config(app, host=control_host, port=control_port, log_level="warning")
    )
    _log.info(
        "carrier simulator: SMPP on %s:%d, control on %s:%d",
        host,
        simulator.port,
        control_host,
        control_port,
    )
    serving = asyncio.ensure_future(server.serve())
    try:
        # Shielded so that cancelling us lets uvicorn shut down cleanly instead of mid-request.
        await asyncio.shield(serving)
    finally:
        server.should_exit = True
        await serving
        await simulator.stop()
