"""REST v1 opt-outs: the account's suppression list (Jumbe's own; neither document has one).

Numbers join it when they text STOP to the account's short code or sender, or
are added here (one at a time, or a CSV or XLSX file with a number or phone
column); START or ``DELETE`` takes them off. The ``contacts`` scope (a member
signed in needs ``manage_contacts`` to change it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.contact_schemas import SuppressionOut, Unsuppressed
from jumbe.faces.rest.contacts import PAGE, PAGE_SIZE, e164, upload_body, uploaded
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import ImportReportOut, Page, documented
from jumbe.faces.state import services_of
from jumbe.services.suppressions import Suppression, SuppressionService
from jumbe.services.tokens import Caller

BASE = "/api/v1/suppressions"
IMPORT = f"{BASE}/import"  # an upload: JUMBE_HTTP_MAX_UPLOAD's body rule
router = APIRouter(prefix=BASE, tags=["opt-outs"])
IMPORT_BODY = upload_body(
    "CSV (UTF-8) or XLSX with a number or phone column",
    {"file": "number\n254712345678\n0723456789\n"},
)


class NewSuppression(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"phone": "+254712345678"}]}
    )
    phone: str = Field(max_length=32, description="The number to stop promotions to")


def _list(request: Request) -> SuppressionService:
    return services_of(request).suppressions


def render(s: Suppression) -> dict[str, Any]:
    return {"phone": e164(s.phone), "source": s.source, "created_at": iso(s.created_at)}


@router.get(
    "", summary="The numbers that opted out, newest first", **documented(Page[SuppressionOut])
)
async def list_suppressions(
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="view"),
    page: PAGE = 1,
    page_size: PAGE_SIZE = 20,
    search: Annotated[str | None, Query(max_length=32, description="Part of a number")] = None,
) -> dict[str, Any]:
    found = await _list(request).page(
        caller.account_id, page=page, page_size=page_size, search=search
    )
    items = [render(s) for s in found.items]
    return paged(items, page=page, page_size=page_size, total=found.total)


@router.post("", summary="Add a number to the list", **documented(SuppressionOut))
async def add_suppression(
    body: NewSuppression,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    return ok(render(await _list(request).add(caller.account_id, body.phone)))


@router.delete("/{phone}", summary="Take a number off the list", **documented(Unsuppressed, 404))
async def remove_suppression(
    phone: str,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    msisdn = await _list(request).remove(caller.account_id, phone)
    return ok({"phone": e164(msisdn), "removed": True})


@router.post(
    "/import",
    summary="Add every number of a CSV or XLSX file to the list",
    openapi_extra=IMPORT_BODY,
    **documented(ImportReportOut, 413),
)
async def import_suppressions(
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    async with uploaded(request, "numbers.csv") as (file, _fields):
        report = await _list(request).import_file(caller.account_id, file.file)
    return ok(report.as_json())
