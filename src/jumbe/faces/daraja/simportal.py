"""Safaricom IoT SIM Management: the seven SIM operations of ``/simportal/v1``.

Every answer is ``{"header": {"requestRefId", "responseCode",
"responseMessage", "customerMessage", "timestamp"}, "body": …}``. Errors keep
the documented statuses and words (see ``_failure``): the account number
(``vpnGroup``) must be the caller's own, the ``username`` a user of it with the
operation's permission, and a number outside the account is an HTTP 200 that
says "No records were found" or "Operation Failed", as each operation's
documentation does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jumbe.core.sim_lifecycle import SimState
from jumbe.faces.daraja.gateway import (
    caller,
    extract_variables_failed,
    invalid_token,
    services,
    too_many_requests,
)
from jumbe.faces.daraja.wire import (
    BadPayload,
    Payload,
    compact_day,
    parse_compact_day,
    request_ref,
    stamp,
    timestamp,
)
from jumbe.services import Services
from jumbe.services.errors import (
    Conflict,
    ForeignAccount,
    InvalidRequest,
    NotPermitted,
    TooManyAttempts,
    Unauthenticated,
    UnknownAccount,
    UnknownSim,
)
from jumbe.services.sims import SimView, Trends

log = logging.getLogger(__name__)
router = APIRouter(prefix="/simportal/v1", tags=["daraja"])

SUCCESSFUL = "Operation Successfull"  # sic, as Safaricom spells it
NO_RECORDS = "No records were found"
FAILED = "Operation Failed"
# queryLifeCycleStatus' statusCode: a number per state, Active being 0
STATUS_CODES = {
    SimState.ACTIVE: "0",
    SimState.IDLE: "1",
    SimState.POOLED: "2",
    SimState.SUSPENDED: "3",
    SimState.TERMINATED: "4",
}
TREND_FIELDS = {
    SimState.POOLED: "pooledTrend",
    SimState.SUSPENDED: "suspendedTrend",
    SimState.ACTIVE: "activeTrend",
    SimState.IDLE: "idleTrend",
}


@dataclass(frozen=True, slots=True)
class Reply:
    body: Any
    customer_message: str = SUCCESSFUL


Handler = Callable[[Services, int, Payload, str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Operation:
    path: str
    permission: str
    not_in_account: str  # what a number outside the account is called
    handler: Handler


def envelope(status: int, message: str, customer: str, body: Any) -> JSONResponse:
    header = {
        "requestRefId": request_ref(),
        "responseCode": status,
        "responseMessage": message,
        "customerMessage": customer,
        "timestamp": timestamp(),
    }
    return JSONResponse({"header": header, "body": body}, status_code=status)


def _failure(exc: Exception, operation: Operation) -> JSONResponse:
    """Each error the documents list, with its status and words."""
    match exc:
        case Unauthenticated():
            return invalid_token()
        case TooManyAttempts():
            return too_many_requests(exc.message)
        case BadPayload() | InvalidRequest():
            return extract_variables_failed(str(exc))
        case ForeignAccount():
            return envelope(400, exc.message, exc.message, None)
        case NotPermitted():
            return envelope(401, exc.message, exc.message, None)
        case UnknownAccount():
            return envelope(404, NO_RECORDS, NO_RECORDS, None)
        case UnknownSim():
            return envelope(200, operation.not_in_account, exc.message, None)
        case Conflict():
            return envelope(200, FAILED, exc.message, None)
    log.exception("unhandled error in %s", operation.path)
    return envelope(500, "Internal Server Error", "Internal Server Error", None)


async def _serve(request: Request, operation: Operation) -> JSONResponse:
    try:
        account = (await caller(request)).account_id
        payload = Payload.parse(await request.body())
        username = payload.text("username")
        found = services(request)
        await found.sims.authorise(
            account, payload.texts("vpnGroup"), username, operation.permission
        )
        reply = await operation.handler(found, account, payload, username)
    except Exception as exc:
        return _failure(exc, operation)
    return envelope(200, "Success", reply.customer_message, reply.body)


# the operations ----------------------------------------------------------------


def _dash(value: object | None) -> str:
    return "-" if value is None or value == "" else str(value)


def sim_row(sim: SimView) -> dict[str, str]:
    return {
        "life_cycle_status": sim.status.label,
        "iccid": sim.iccid,
        "asset_name": _dash(sim.asset_name),
        "activation_date": stamp(sim.activated_at),
        "expiry_date": _dash(sim.expiry_year),
        "imei": _dash(sim.imei),
        "product_status": _dash(sim.product.status if sim.product else None),
        "imsi": sim.imsi,
        "msisdn": sim.msisdn,
        "vpn_group": sim.vpn_group,
        "activation_agent": _dash(sim.activated_by),
    }


async def all_sims(s: Services, account: int, p: Payload, _user: str) -> Reply:
    # the documented example spells it startAtInde
    start = p.number("startAtIndex", "startAtInde", default=0)
    found = await s.sims.page(account, offset=start, limit=p.number("pageSize", default=10))
    return Reply({"Desc": [sim_row(sim) for sim in found]})


async def life_cycle_status(s: Services, account: int, p: Payload, _user: str) -> Reply:
    sim = await s.sims.find(account, p.text("msisdn"))
    return Reply(
        {
            "desc": "Operation successfull",
            "status": sim.status.label,
            "statusCode": STATUS_CODES[sim.status],
        }
    )


async def customer_info(s: Services, account: int, p: Payload, _user: str) -> Reply:
    sim = await s.sims.find(account, p.text("msisdn"))
    product = sim.product
    return Reply(
        {
            "offeringName": _dash(product.name if product else None),
            "offeringStatus": _dash(product.status if product else None),
            "subscriberStatus": sim.status.label,
            "offeringId": _dash(product.offering_id if product else None),
            "vpnGroup": sim.vpn_group,
        }
    )


async def activation(s: Services, account: int, p: Payload, user: str) -> Reply:
    sim = await s.sims.activate(account, p.text("msisdn"), actor=user)
    return Reply(
        {"Desc": "Line activated successfully", "requestId": request_ref(), "ID": sim.msisdn}
    )


def trends_body(trends: Trends) -> dict[str, Any]:
    series: dict[str, list[str]] = {"dates": [compact_day(d) for d in trends.days]}
    for state, name in TREND_FIELDS.items():
        series[name] = [str(n) for n in trends.entered[state]]
    return {"body": [series]}


async def activation_trends(s: Services, account: int, p: Payload, _user: str) -> Reply:
    first = parse_compact_day(p.text("startDate"), "startDate")
    # the example says stopDate, the parameter table endDate: both are meant
    last = parse_compact_day(p.text("stopDate", "endDate"), "stopDate")
    return Reply(trends_body(await s.sims.trends(account, first, last)))


async def rename_asset(s: Services, account: int, p: Payload, _user: str) -> Reply:
    await s.sims.rename(account, p.text("msisdn"), p.text("assetName"))
    return Reply({"result": "Success", "desc": SUCCESSFUL}, "Asset renamed successfully")


async def suspend_or_resume(s: Services, account: int, p: Payload, user: str) -> Reply:
    msisdn, product = p.text("msisdn"), p.optional_text("product")
    match p.text("operation").lower():
        case "suspend":
            await s.sims.suspend(account, msisdn, actor=user, product=product)
        case "resume" | "unsuspend":
            await s.sims.resume(account, msisdn, actor=user, product=product)
        case other:
            raise BadPayload(f"operation must be suspend or resume, got {other!r}")
    return Reply({"statusCode": 0, "statusDesc": "Operation successfully."})


OPERATIONS = (
    Operation("/allsims", "view", NO_RECORDS, all_sims),
    Operation("/queryLifeCycleStatus", "view", NO_RECORDS, life_cycle_status),
    Operation("/querycustomerinfo", "view", NO_RECORDS, customer_info),
    Operation("/simactivation", "activate", FAILED, activation),
    Operation("/getactivationtrends", "view", NO_RECORDS, activation_trends),
    Operation("/renameasset", "rename", FAILED, rename_asset),
    Operation("/suspend_unsuspend_sub", "suspend_resume", FAILED, suspend_or_resume),
)


def _route(operation: Operation) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        return await _serve(request, operation)

    return endpoint


for _operation in OPERATIONS:
    router.add_api_route(
        _operation.path,
        _route(_operation),
        methods=["POST"],
        summary=f"SIM portal: {_operation.path.strip('/')}",
    )
