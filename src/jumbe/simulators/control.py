"""HTTP control of a running carrier simulator: inject MOs, drop binds, change behaviour,
take devices offline and bring them back.

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
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from jumbe.core.phone import InvalidNumber, normalise
from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator
from jumbe.simulators.devices import DeviceView, device_number

__all__ = ["control_router", "run_standalone", "token_guard"]

_log = logging.getLogger(__name__)


class MoRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    sender: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    text: str

    @field_validator("sender")
    @classmethod
    def _handset(cls, value: str) -> str:
        """A handset's number, sent on as a carrier does: international, without '+'."""
        return handset_number(value)


def handset_number(raw: str) -> str:
    """The international form of a handset's number; ValueError saying what is wrong."""
    try:
        return normalise(raw)
    except InvalidNumber as exc:
        raise ValueError(f"not a handset's number: {exc.reason}") from None


class BehaviourPatch(BaseModel):
    """Every field optional: a PUT changes only what it names."""

    model_config = ConfigDict(extra="forbid")

    receipt_delay: float | None = Field(default=None, ge=0)
    undeliverable_suffixes: tuple[str, ...] | None = None
    rejected_suffixes: tuple[str, ...] | None = None
    expired_suffixes: tuple[str, ...] | None = None
    silent_suffixes: tuple[str, ...] | None = None
    lost_receipt_suffixes: tuple[str, ...] | None = None
    failure_ratio: float | None = Field(default=None, ge=0, le=1)
    max_tps: float | None = Field(default=None, ge=0)  # 0: throttle everything
    seed: int | None = None
    default_validity: float | None = Field(default=None, gt=0)


MAX_OFFLINE_SECONDS = 366 * 24 * 3600.0  # a year: longer is a typo, and timers need a bound


class DeviceChange(BaseModel):
    """Body of PUT /simulator/devices/{msisdn}: offline (for a while, or until told), or back."""

    model_config = ConfigDict(extra="forbid")

    online: StrictBool  # "false" as a string is a mistake worth a 422, not a silent True
    for_seconds: float | None = Field(default=None, gt=0, le=MAX_OFFLINE_SECONDS)

    @model_validator(mode="after")
    def _period_only_when_offline(self) -> DeviceChange:
        if self.online and self.for_seconds is not None:
            raise ValueError("for_seconds goes with online: false (how long the device is away)")
        return self


# Fields where an explicit null means "unset" rather than "leave alone".
_NULLABLE = frozenset({"max_tps", "seed"})


def token_guard(token: str) -> Any:
    """A dependency that lets through only callers with the simulator's control token."""

    def require_token(x_simulator_token: str | None = Header(default=None)) -> None:
        if x_simulator_token is None or not hmac.compare_digest(
            x_simulator_token.encode(), token.encode()
        ):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or missing simulator token")

    return Depends(require_token)


def control_router(simulator: CarrierSimulator, token: str) -> APIRouter:
    router = APIRouter(prefix="/simulator", dependencies=[token_guard(token)])

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

    @router.get("/devices")
    async def offline_devices() -> dict[str, list[dict[str, Any]]]:
        return {"devices": [_device_json(view) for view in simulator.offline_devices()]}

    @router.put("/devices/{msisdn}")
    async def change_device(msisdn: str, body: DeviceChange) -> dict[str, Any]:
        number = _number(msisdn)
        if body.online:
            released = simulator.bring_online(number)
            return {"msisdn": number, "online": True, "released": released}
        return {"online": False, **_device_json(simulator.take_offline(number, body.for_seconds))}

    return router


def _number(msisdn: str) -> str:
    """The device's international number, or a 400 that says what is wrong with it."""
    try:
        return device_number(msisdn)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad device number: {exc}") from None


def _device_json(view: DeviceView) -> dict[str, Any]:
    back_at = view.back_at.isoformat(timespec="seconds") if view.back_at else None
    return {"msisdn": view.msisdn, "held": view.held, "back_at": back_at}


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
    journal: Path | None = None,
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
        journal=journal,
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
