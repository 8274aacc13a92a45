"""REST v1 SIMs: the account's inventory, and batch imports from CSV.

``POST /api/v1/sims/import`` takes the CSV as a multipart file (any field
name) or as the raw body (``text/csv``). Either way it lands in a temporary
file (in memory up to 1 MiB, on disk beyond) and is imported from there a
batch at a time, so a file of a million rows is never held in memory whole.
The answer comes when the import is done.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from jumbe.core.isotime import iso
from jumbe.core.sim_lifecycle import parse_state
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import ImportReportOut, Page, SimOut, documented
from jumbe.faces.state import services_of
from jumbe.services.csv_import import ImportReport
from jumbe.services.errors import InvalidRequest
from jumbe.services.sims import SimView
from jumbe.services.tokens import Caller

router = APIRouter(prefix="/api/v1/sims", tags=["sims"])

UPLOAD = "/api/v1/sims/import"  # its body is capped by JUMBE_HTTP_MAX_UPLOAD, not the JSON cap
SPOOL_IN_MEMORY = 1024 * 1024
CSV_EXAMPLE = (
    "iccid,imsi,msisdn,asset_name,imei,product_id,status\n"
    "89254014010100030360,639014010003036,300000003036,Tracker012,350123451234560,14205001,active\n"
)
# The body is read by hand (streamed to a spool file), so the document says what it takes.
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


def render(sim: SimView) -> dict[str, Any]:
    product = sim.product
    return {
        "iccid": sim.iccid,
        "imsi": sim.imsi,
        "msisdn": sim.msisdn,
        "asset_name": sim.asset_name,
        "imei": sim.imei,
        "sim_type": sim.sim_type,
        "status": sim.status.value,
        "status_at": iso(sim.status_at),
        "activated_at": iso(sim.activated_at) if sim.activated_at else None,
        "activated_by": sim.activated_by,
        "expiry_year": sim.expiry_year,
        "product": (
            {"offering_id": product.offering_id, "name": product.name, "status": product.status}
            if product
            else None
        ),
        "vpn_group": sim.vpn_group,
        "created_at": iso(sim.created_at),
    }


@router.get("", summary="The account's SIMs, in the order they arrived", **documented(Page[SimOut]))
async def list_sims(
    request: Request,
    caller: Caller = scope("sims"),
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: Annotated[str | None, Query(description="idle, pooled, active, ...")] = None,
) -> dict[str, Any]:
    try:
        state = parse_state(status) if status else None
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    sims = services_of(request).sims
    items = await sims.page(
        caller.account_id, offset=(page - 1) * page_size, limit=page_size, status=state
    )
    total = await sims.count(caller.account_id, status=state)
    return paged([render(s) for s in items], page=page, page_size=page_size, total=total)


@router.post(
    "/import",
    summary="Import SIMs from CSV (multipart file or text/csv body)",
    openapi_extra=IMPORT_BODY,
    **documented(ImportReportOut),
)
async def import_csv(request: Request, caller: Caller = scope("sims")) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        try:
            uploads = [v for v in form.values() if isinstance(v, UploadFile)]
            if len(uploads) != 1:
                raise InvalidRequest("send exactly one CSV file")
            report = await _import(request, caller, uploads[0].file)
        finally:
            await form.close()
    else:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            await _spool_body(request, spool)
            report = await _import(request, caller, spool)
    return ok(report.as_json())


async def _import(request: Request, caller: Caller, binary: IO[bytes]) -> ImportReport:
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    try:
        return await services_of(request).sims.import_csv(caller.account_id, text)
    finally:
        text.detach()


async def _spool_body(request: Request, spool: IO[bytes]) -> None:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        await asyncio.to_thread(spool.write, chunk)
    if size == 0:
        raise InvalidRequest("send the CSV as the body (text/csv) or as a multipart file")
