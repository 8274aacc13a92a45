"""A customer's pages: dashboard, Quick Send, a message, sender IDs, billing, developer.

Every page starts from ``member`` (the signed-in member and the permission
the page needs) and asks services for the member's own account only: an
identifier of another account in a URL finds nothing (404), exactly as the
REST face answers it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from jumbe.core.status import FINAL
from jumbe.faces.portal.web import (
    PortalRoute,
    checked_form,
    member,
    redirect,
    render,
    services,
    text,
)
from jumbe.services.errors import InvalidRequest, ServiceError
from jumbe.services.messaging import SendRequest
from jumbe.services.roles import grantable_scopes
from jumbe.services.senders import APPROVED, ApplicationForm, Upload
from jumbe.services.tokens import Caller

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

SOURCE = "portal"  # messages sent here: the portal's longer limit (core.pricing.PORTAL_SOURCES)
TOPUP_PENDING = "pending"


NAIROBI = timezone(timedelta(hours=3), "EAT")  # Kenya keeps no daylight saving


def _today() -> datetime:
    """Midnight in Nairobi: a Kenyan customer's "today", not UTC's (which starts at 03:00)."""
    midnight = datetime.now(NAIROBI).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC)


@router.get("/")
async def home(request: Request) -> Response:
    return redirect("/dashboard")


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    caller = await member(request)
    found = services(request)
    return render(
        request,
        "dashboard.html",
        {
            "balance": await found.billing.balance(caller.account_id),
            "senders": await found.senders.registrations(caller.account_id),
            "today": await found.activity.by_status(caller.account_id, _today()),
        },
    )


# Quick Send -------------------------------------------------------------------------


async def _approved(request: Request, account_id: int) -> list[object]:
    found = await services(request).senders.registrations(account_id)
    return [r for r in found if r.status == APPROVED]


@router.get("/send")
async def send_page(request: Request) -> Response:
    caller = await member(request, "send")
    senders = await _approved(request, caller.account_id)
    return render(request, "send.html", {"senders": senders, "form": {}})


@router.post("/send")
async def send(request: Request) -> Response:
    caller = await member(request, "send")
    form = await checked_form(request)
    values = {"to": text(form, "to", 32), "sender": text(form, "sender", 32)}
    message = text(form, "message", 2000)
    try:
        sent = await services(request).messaging.send(
            caller.account_id,
            SendRequest(
                to=values["to"], text=message, sender=values["sender"] or None, source=SOURCE
            ),
        )
    except ServiceError as exc:
        senders = await _approved(request, caller.account_id)
        context = {"senders": senders, "form": {**values, "message": message}, "error": str(exc)}
        return render(request, "send.html", context, status=400)
    return redirect(f"/messages/{sent.uuid}")


@router.get("/messages/{uuid}")
async def message(request: Request, uuid: str) -> Response:
    caller = await member(request)
    found = await services(request).messaging.get(caller.account_id, uuid[:64])
    final = found.status in FINAL
    return render(request, "message.html", {"message": found, "final": final})


# sender IDs ---------------------------------------------------------------------------


@router.get("/senders")
async def senders(request: Request) -> Response:
    caller = await member(request)
    found = services(request).senders
    applications, _total = await found.applications(caller.account_id, page_size=100)
    return render(
        request,
        "senders.html",
        {
            "registrations": await found.registrations(caller.account_id),
            "applications": applications,
        },
    )


APPLICATION_FIELDS = ("name", "carrier", "campaign_type", "organisation", "purpose")


APPLICATIONS = "/senders/apply"  # KYC uploads: a larger body than a form


@router.get(APPLICATIONS)
async def apply_page(request: Request) -> Response:
    await member(request, "manage_senders")
    return render(request, "apply.html", {"form": {}})


@router.post(APPLICATIONS)
async def apply(request: Request) -> Response:
    caller = await member(request, "manage_senders")
    form = await checked_form(request, max_files=4)
    try:
        values = {f: text(form, f, 500) for f in APPLICATION_FIELDS}
        uploads = [
            Upload(key, value.file, value.filename or "")
            for key, value in form.multi_items()
            if isinstance(value, UploadFile) and value.filename
        ]
        try:
            made = await services(request).senders.apply(caller, ApplicationForm(**values), uploads)
        except ServiceError as exc:
            return render(request, "apply.html", {"form": values, "error": str(exc)}, status=400)
    finally:
        await form.close()
    return redirect(f"/senders/applications/{made.uuid}")


@router.get("/senders/applications/{uuid}")
async def application(request: Request, uuid: str) -> Response:
    caller = await member(request)
    found = await services(request).senders.application(caller.account_id, uuid[:64])
    return render(
        request,
        "application.html",
        {"application": found, "document_base": "/senders/applications"},
    )


@router.get("/senders/applications/{uuid}/documents/{document}")
async def document(request: Request, uuid: str, document: str) -> Response:
    caller = await member(request)
    found, path = await services(request).senders.document(
        caller.account_id, uuid[:64], document[:64]
    )
    return download(found.filename, found.content_type, str(path))


def download(filename: str, content_type: str, path: str) -> FileResponse:
    """A KYC document as an attachment the browser never runs (nosniff, sandboxed)."""
    return FileResponse(
        path,
        media_type=content_type,
        filename=filename,
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )


# billing ------------------------------------------------------------------------------


@router.get("/billing")
async def billing(request: Request) -> Response:
    caller = await member(request)
    found = services(request)
    topups, _total = await found.topups.list_topups(caller, page_size=20)
    return render(
        request,
        "billing.html",
        {
            "balance": await found.billing.balance(caller.account_id),
            "ledger": await found.billing.ledger(caller.account_id, limit=50),
            "packages": await found.pricing.list_packages(),
            "topups": topups,
            "pricing": (await found.pricing.pricing(caller.account_id)).value,
        },
    )


@router.post("/billing/topups")
async def buy(request: Request) -> Response:
    caller = await member(request, "manage_billing")
    form = await checked_form(request)
    units_text = text(form, "units", 12)
    if not units_text.isdigit():
        raise InvalidRequest("units must be a whole number")
    made = await services(request).topups.buy(
        caller,
        package=text(form, "package", 64),
        units=int(units_text),
        method=text(form, "method", 16),
        phone=text(form, "phone", 32) or None,
        reference=text(form, "reference", 64) or None,
    )
    return redirect(f"/billing/topups/{made.uuid}")


@router.get("/billing/topups/{uuid}")
async def topup(request: Request, uuid: str) -> Response:
    caller = await member(request)
    found = services(request)
    made = await found.topups.get(caller, uuid[:64])
    return render(
        request,
        "topup.html",
        {
            "topup": made,
            "final": made.status != TOPUP_PENDING,
            "balance": await found.billing.balance(caller.account_id),
        },
    )


# developer ----------------------------------------------------------------------------


@router.get("/developer")
async def developer(request: Request) -> Response:
    caller = await member(request, "manage_tokens")
    return await _developer(request, caller)


async def _developer(request: Request, caller: Caller, **shown: object) -> Response:
    found = services(request)
    context = {
        "tokens": await found.tokens.list_tokens(caller.account_id),
        "scopes": sorted(grantable_scopes(caller.role or "")),
        "smpp": details() if (details := getattr(request.app.state, "portal_smpp", None)) else None,
        **shown,
    }
    return render(request, "developer.html", context)


@router.post("/developer/tokens")
async def create_token(request: Request) -> Response:
    caller = await member(request, "manage_tokens")
    form = await checked_form(request)
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    raw, made = await services(request).tokens.create_token(
        caller, text(form, "name", 100), scopes or ["messages"]
    )
    return await _developer(request, caller, new_token=raw, new_token_name=made.name)


@router.post("/developer/tokens/{uuid}/revoke")
async def revoke_token(request: Request, uuid: str) -> Response:
    caller = await member(request, "manage_tokens")
    await checked_form(request)
    await services(request).tokens.revoke_token(caller.account_id, uuid[:64])
    return redirect("/developer")


@router.post("/developer/kimisms")
async def kimisms_credentials(request: Request) -> Response:
    caller = await member(request, "manage_account")
    await checked_form(request)
    made = await services(request).kimisms_oauth.regenerate(caller.account_id)
    return await _developer(request, caller, kimisms=made)
