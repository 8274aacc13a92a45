"""Billing over REST: packages, the team's balance, top-ups; staff's packages and reviews;
and the public route M-Pesa calls back.

Members act through a sign-in session (top-ups need ``manage_billing``,
reading needs ``view``: ``services.roles``); staff through a staff session.
The callback route takes no credentials (M-Pesa sends none): what makes it
safe is in ``services.topups`` (a secret URL per payment, the CheckoutRequestID
and amount we asked for) and here: a small body cap, and the same Daraja
acknowledgement whatever became of the callback, so probing it teaches nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.core.money import format_kes
from jumbe.faces.rest.auth import require_staff, signed_in
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import (
    BalanceOut,
    PackageOut,
    PricingOut,
    TopupOut,
    documented,
)
from jumbe.faces.rest.schemas import (
    Page as PageOf,
)
from jumbe.services.pricing import Package
from jumbe.services.roles import require
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import Caller
from jumbe.services.topups import CALLBACK_PATH, StkOutcome, TopupView

log = logging.getLogger(__name__)

router = APIRouter(tags=["billing"])
MAX_CALLBACK = 8 * 1024  # an stkCallback is a few hundred bytes


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class NewTopup(BaseModel):
    model_config = _examples(
        {"package_id": "6f1c…", "units": 1000, "method": "mpesa", "phone": "254712345678"},
        {"package_id": "6f1c…", "units": 5000, "method": "offline", "reference": "EQ-88213"},
    )
    package_id: str = Field(max_length=36, description="A package's uuid")
    units: int = Field(ge=1, le=10_000_000)
    method: Literal["mpesa", "offline"] = "mpesa"
    phone: str | None = Field(default=None, max_length=20, description="M-Pesa: 254XXXXXXXXX")
    reference: str | None = Field(default=None, max_length=64, description="offline: bank ref")
    sender_id: str | None = Field(
        default=None,
        max_length=36,
        description="A sender registration (UUID, or name on the package's carrier) whose own"
        " float the units fill; omitted: the team wallet",
    )


class NewPackage(BaseModel):
    model_config = _examples(
        {"carrier": "safaricom", "name": "Bulk 10k", "rate": "0.80", "min_units": 10000}
    )
    carrier: str = Field(max_length=40)
    name: str = Field(max_length=60)
    rate: str = Field(max_length=12, description="KES per unit, e.g. 0.80")
    min_units: int = Field(default=1, ge=1, le=10_000_000)


class PackageChange(BaseModel):
    model_config = _examples({"rate": "0.75"}, {"active": False})
    rate: str | None = Field(default=None, max_length=12)
    min_units: int | None = Field(default=None, ge=1, le=10_000_000)
    active: bool | None = None


class Review(BaseModel):
    model_config = _examples({"reason": "no payment found for this reference"})
    reason: str = Field(default="", max_length=200)


class PricingChange(BaseModel):
    model_config = _examples({"pricing": "kimisms"})
    pricing: Literal["segments", "kimisms"]


def render_package(p: Package) -> dict[str, Any]:
    return {
        "id": p.uuid,
        "carrier": p.carrier,
        "name": p.name,
        "rate_kes": format_kes(p.rate_cents),
        "min_units": p.min_units,
        "active": p.active,
    }


def render_topup(t: TopupView) -> dict[str, Any]:
    return {
        "id": t.uuid,
        "status": t.status.upper(),  # PENDING, COMPLETED, FAILED as Kimisms shows them
        "description": t.detail,
        "method": t.method,
        "package": {"id": t.package_uuid, "name": t.package_name, "carrier": t.carrier},
        "units": t.units,
        "rate_kes": format_kes(t.rate_cents),
        "amount_kes": format_kes(t.amount_cents),
        "phone": t.phone,
        "reference": t.reference,
        "checkout_request_id": t.checkout_request_id,
        "mpesa_receipt": t.mpesa_receipt,
        "wallet": "team" if t.sender_id is None else "sender",
        "sender_id": t.sender_uuid,
        "sender_name": t.sender_name,
        "requested_by": t.requested_by,
        "reviewed_by": t.reviewed_by,
        "created_at": iso(t.created_at),
        "status_at": iso(t.status_at),
    }


Page = Annotated[int, Query(ge=1, le=1_000_000)]
# an id past the database's integers is a bad request, not an overflow in the query
AccountId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1)]
PageSize = Annotated[int, Query(ge=1, le=100)]


# a member of the team -------------------------------------------------------------


@router.get(
    "/api/v1/billing/packages",
    summary="Packages on offer: KES per unit, per carrier",
    **documented(list[PackageOut]),
)
async def packages(
    request: Request, member: Caller = Depends(signed_in), carrier: str | None = None
) -> dict[str, Any]:
    require(member.role or "", "view")
    found = await request.app.state.services.pricing.list_packages(carrier=carrier)
    return ok([render_package(p) for p in found])


@router.get(
    "/api/v1/billing/balance",
    summary="The team wallet's units, each sender's float, and the pricing rule",
    **documented(BalanceOut),
)
async def balance(request: Request, member: Caller = Depends(signed_in)) -> dict[str, Any]:
    require(member.role or "", "view")
    services = request.app.state.services
    units = await services.billing.balance(member.account_id)
    floats = await services.billing.floats(member.account_id)
    pricing = await services.pricing.pricing(member.account_id)
    senders = [
        {"sender_id": f.sender_uuid, "name": f.name, "carrier": f.carrier, "units": f.units}
        for f in floats
    ]
    return ok({"units": units, "pricing": pricing.value, "senders": senders})


@router.post(
    "/api/v1/billing/topups",
    summary="Buy units: an M-Pesa STK push, or offline",
    **documented(TopupOut, 404, 409),
)
async def buy(
    body: NewTopup, request: Request, member: Caller = Depends(signed_in)
) -> dict[str, Any]:
    made = await request.app.state.services.topups.buy(
        member,
        package=body.package_id,
        units=body.units,
        method=body.method,
        phone=body.phone,
        reference=body.reference,
        sender=body.sender_id,
    )
    return ok(render_topup(made))


@router.get(
    "/api/v1/billing/topups",
    summary="The team's top-ups, newest first",
    **documented(PageOf[TopupOut]),
)
async def topups(
    request: Request, member: Caller = Depends(signed_in), page: Page = 1, page_size: PageSize = 20
) -> dict[str, Any]:
    found, total = await request.app.state.services.topups.list_topups(
        member, page=page, page_size=page_size
    )
    return paged([render_topup(t) for t in found], page=page, page_size=page_size, total=total)


@router.get(
    "/api/v1/billing/topups/{uuid}",
    summary="One top-up and its status",
    **documented(TopupOut, 404),
)
async def topup(uuid: str, request: Request, member: Caller = Depends(signed_in)) -> dict[str, Any]:
    return ok(render_topup(await request.app.state.services.topups.get(member, uuid)))


# the operator's staff -------------------------------------------------------------


@router.get(
    "/api/v1/staff/packages",
    summary="Every package, withdrawn ones too (staff)",
    **documented(list[PackageOut]),
)
async def staff_packages(
    request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    found = await request.app.state.services.pricing.list_packages(active_only=False)
    return ok([render_package(p) for p in found])


@router.post(
    "/api/v1/staff/packages", summary="Add a package (staff)", **documented(PackageOut, 409)
)
async def add_package(
    body: NewPackage, request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    made = await request.app.state.services.pricing.create_package(
        staff, body.carrier, body.name, body.rate, min_units=body.min_units
    )
    return ok(render_package(made))


@router.patch(
    "/api/v1/staff/packages/{uuid}",
    summary="Change a package's rate or offer (staff)",
    **documented(PackageOut, 404, 409),
)
async def change_package(
    uuid: str, body: PackageChange, request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    changed = await request.app.state.services.pricing.change_package(
        staff, uuid, rate_kes=body.rate, min_units=body.min_units, active=body.active
    )
    return ok(render_package(changed))


@router.get(
    "/api/v1/staff/topups",
    summary="Every account's top-ups; status=pending to review",
    **documented(PageOf[TopupOut]),
)
async def staff_topups(
    request: Request,
    staff: StaffCaller = Depends(require_staff),
    status: Annotated[str | None, Query(max_length=12)] = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    found, total = await request.app.state.services.topups.list_for_staff(
        staff, status=status, page=page, page_size=page_size
    )
    return paged([render_topup(t) for t in found], page=page, page_size=page_size, total=total)


@router.post(
    "/api/v1/staff/topups/{uuid}/approve",
    summary="Approve an offline top-up (staff)",
    **documented(TopupOut, 404, 409),
)
async def approve(
    uuid: str, request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    done = await request.app.state.services.topups.review(staff, uuid, approve=True)
    return ok(render_topup(done))


@router.post(
    "/api/v1/staff/topups/{uuid}/reject",
    summary="Reject an offline top-up (staff)",
    **documented(TopupOut, 404, 409),
)
async def reject(
    uuid: str, body: Review, request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    done = await request.app.state.services.topups.review(
        staff, uuid, approve=False, reason=body.reason
    )
    return ok(render_topup(done))


@router.put(
    "/api/v1/staff/accounts/{account_id}/pricing",
    summary="An account's pricing rule",
    **documented(PricingOut, 404),
)
async def set_pricing(
    account_id: AccountId,
    body: PricingChange,
    request: Request,
    staff: StaffCaller = Depends(require_staff),
) -> dict[str, Any]:
    pricing = await request.app.state.services.pricing.set_pricing(account_id, body.pricing)
    return ok({"account_id": account_id, "pricing": pricing.value})


# M-Pesa ----------------------------------------------------------------------------


@router.post(CALLBACK_PATH, include_in_schema=False)
async def mpesa_callback(request: Request, key: str = "") -> JSONResponse:
    """Daraja's stkCallback. Acknowledged alike whether believed, repeated or ignored."""
    outcome = stk_outcome(await _json_body(request))
    if outcome is None:
        return mpesa_ack(400, "Rejected: not an stkCallback")
    await request.app.state.services.topups.settle(outcome, callback_key=key[:64])
    return mpesa_ack(200, "Accepted")


def mpesa_ack(status: int, description: str) -> JSONResponse:
    """The acknowledgement Daraja expects from a callback URL."""
    return JSONResponse(
        {"ResultCode": 0 if status < 300 else 1, "ResultDesc": description}, status_code=status
    )


def refuse_callback(status: int, reason: str) -> JSONResponse:
    """A callback the body limits refused (too large, too slow), in the same shape."""
    return mpesa_ack(status, f"Rejected: {reason}")


def stk_outcome(body: Any) -> StkOutcome | None:
    """The outcome an stkCallback reports, or None when it is not one."""
    try:
        callback = body["Body"]["stkCallback"]
        checkout = callback["CheckoutRequestID"]
        code = callback["ResultCode"]
        desc = callback.get("ResultDesc", "")
    except (KeyError, TypeError, AttributeError):
        return None
    if not isinstance(checkout, str) or not 0 < len(checkout) <= 64:
        return None
    if isinstance(code, bool) or not isinstance(code, int | str):
        return None
    try:
        result_code = int(code)
    except ValueError:
        return None
    items = _metadata(callback)
    amount = items.get("Amount")
    receipt = items.get("MpesaReceiptNumber")
    return StkOutcome(
        checkout_request_id=checkout,
        result_code=result_code,
        result_desc=str(desc)[:200],
        amount=_whole(amount),
        receipt=receipt if isinstance(receipt, str) and 0 < len(receipt) <= 32 else None,
    )


def _metadata(callback: dict[str, Any]) -> dict[str, Any]:
    try:
        items = callback["CallbackMetadata"]["Item"]
    except (KeyError, TypeError):
        return {}
    if not isinstance(items, list):
        return {}
    return {
        i["Name"]: i.get("Value")
        for i in items[:20]
        if isinstance(i, dict) and isinstance(i.get("Name"), str)
    }


def _whole(value: Any) -> int | None:
    """Daraja writes amounts as 1.00: a whole number of shillings, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
