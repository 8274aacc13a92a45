"""Safaricom IoT SIM Management: the 13 operations of ``/simportal/v1``.

Every answer is ``{"header": {"requestRefId", "responseCode",
"responseMessage", "customerMessage", "timestamp"}, "body": …}``. Errors keep
the documented statuses and words (see ``_failure``): the account number
(``vpnGroup``) must be the caller's own, the ``username`` a user of it with the
operation's permission, and a number outside the account is an HTTP 200 that
says "No records were found" or "Operation Failed", as each operation's
documentation does. The six messaging operations' examples carry no
``username`` and only some a ``vpnGroup``: each is checked when given.
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
from jumbe.faces.daraja.portal_messages import message_row, spring_page, status_of
from jumbe.faces.daraja.schemas import sim_portal
from jumbe.faces.daraja.wire import (
    BadPayload,
    Payload,
    compact_day,
    parse_compact_day,
    parse_day_time,
    request_ref,
    stamp,
    timestamp,
)
from jumbe.services import Services
from jumbe.services.errors import (
    Conflict,
    ForeignAccount,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    NotPermitted,
    QueueFull,
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


FETCHED = "Details fetched successfully."
QUEUED = "Message queued successfully."
DELETED = "Message deleted successfully."
PORTAL = "sim-portal"  # the sourceSystem of messages sent here


@dataclass(frozen=True, slots=True)
class Reply:
    body: Any
    customer_message: str = SUCCESSFUL
    response_message: str = "Success"

    @classmethod
    def saying(cls, words: str, body: Any = None) -> Reply:
        """The messaging operations say the same words in both message fields."""
        return cls(body, words, words)


Handler = Callable[[Services, int, Payload, str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Operation:
    path: str
    permission: str
    not_in_account: str  # what a number outside the account is called
    handler: Handler
    names_user: bool = True  # its payload always carries vpnGroup and username


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
            return too_many_requests(exc)
        case BadPayload() | InvalidRequest():
            return extract_variables_failed(str(exc))
        case ForeignAccount():
            return envelope(400, exc.message, exc.message, None)
        case NotPermitted():
            return envelope(401, exc.message, exc.message, None)
        case UnknownAccount():
            return envelope(404, NO_RECORDS, NO_RECORDS, None)
        case UnknownSim() | NotFound():
            return envelope(200, operation.not_in_account, exc.message, None)
        case Conflict() | QueueFull() | InsufficientBalance():
            return envelope(200, FAILED, exc.message, None)
    log.exception("unhandled error in %s", operation.path)
    return envelope(500, "Internal Server Error", "Internal Server Error", None)


async def _serve(request: Request, operation: Operation) -> JSONResponse:
    try:
        account = (await caller(request)).account_id
        payload = Payload.parse(await request.body(), dict(request.query_params))
        username: str | None
        if operation.names_user:
            vpn_groups, username = payload.texts("vpnGroup"), payload.text("username")
        else:
            vpn_groups = payload.texts("vpnGroup") if "vpnGroup" in payload.data else []
            username = payload.optional_text("username")
        found = services(request)
        await found.sims.authorise(account, vpn_groups, username, operation.permission)
        reply = await operation.handler(found, account, payload, username or PORTAL)
    except Exception as exc:
        return _failure(exc, operation)
    return envelope(200, reply.response_message, reply.customer_message, reply.body)


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


# the messaging operations -------------------------------------------------------


async def _page_of(
    s: Services, account: int, p: Payload, default_size: int, **narrowing: Any
) -> Reply:
    page_no, page_size = p.page(default_size)
    found = await s.device_messages.page(account, page_no=page_no, page_size=page_size, **narrowing)
    rows = [message_row(m) for m in found.items]
    return Reply.saying(FETCHED, spring_page(rows, page_no, page_size, found.total))


async def search_messages(s: Services, account: int, p: Payload, _user: str) -> Reply:
    return await _page_of(s, account, p, 50, sim=p.text("searchValue"))


async def filter_messages(s: Services, account: int, p: Payload, _user: str) -> Reply:
    since = parse_day_time(p.text("startDate"), "startDate")
    until = parse_day_time(p.text("endDate"), "endDate")
    status = status_of(p.text("status"))
    return await _page_of(s, account, p, 10, since=since, until=until, statuses=[status])


async def all_messages(s: Services, account: int, p: Payload, _user: str) -> Reply:
    return await _page_of(s, account, p, 10)


async def send_single_message(s: Services, account: int, p: Payload, _user: str) -> Reply:
    sent = await s.device_messages.send(
        account, msisdn=p.text("msisdn"), text=p.text("message"), source=PORTAL
    )
    return Reply.saying(QUEUED, message_row(sent))


async def delete_thread(s: Services, account: int, p: Payload, _user: str) -> Reply:
    await s.device_messages.hide_thread(account, p.text("msisdn"))
    return Reply.saying(DELETED)


async def delete_message(s: Services, account: int, p: Payload, _user: str) -> Reply:
    await s.device_messages.hide(account, p.number("id"))
    return Reply.saying(DELETED)


OPERATIONS = (
    Operation("/allsims", "view", NO_RECORDS, all_sims),
    Operation("/queryLifeCycleStatus", "view", NO_RECORDS, life_cycle_status),
    Operation("/querycustomerinfo", "view", NO_RECORDS, customer_info),
    Operation("/simactivation", "activate", FAILED, activation),
    Operation("/getactivationtrends", "view", NO_RECORDS, activation_trends),
    Operation("/renameasset", "rename", FAILED, rename_asset),
    Operation("/suspend_unsuspend_sub", "suspend_resume", FAILED, suspend_or_resume),
    Operation("/searchmessages", "view", NO_RECORDS, search_messages, names_user=False),
    Operation("/filtermessages", "view", NO_RECORDS, filter_messages, names_user=False),
    Operation("/deleteMessageThread", "message", FAILED, delete_thread, names_user=False),
    Operation("/getallmessages", "view", NO_RECORDS, all_messages, names_user=False),
    Operation("/sendsinglemessage", "message", FAILED, send_single_message, names_user=False),
    Operation("/deletemessage", "message", FAILED, delete_message, names_user=False),
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
        **sim_portal(_operation.path),
    )
