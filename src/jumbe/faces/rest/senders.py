"""REST v1 sender IDs: the registrations, the team default, applications with KYC.

The Mobile Sasa document names senders only as ``sender_id`` ("your approved
sender name or sender UUID"); these routes are Jumbe's own, in the same
envelope. ``GET /senders`` takes an API token with the ``messages`` scope (what
sends needs to know) or any member's session; applying, the default and the
documents are for members signed in (``manage_senders`` to change anything).
Staff read and move every account's applications under ``/staff/senders``.

An application is ``multipart/form-data``: the fields and one file of each
KYC kind; its body is capped by ``JUMBE_HTTP_MAX_UPLOAD`` and by what two
5 MB documents need, whichever is less (``app._route_rules``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import require_staff, scope, signed_in
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import (
    ApplicationOut,
    Page,
    RegistrationOut,
    StaffApplicationOut,
    documented,
    download,
)
from jumbe.services.errors import InvalidRequest
from jumbe.services.kyc_documents import MAX_DOCUMENT_BYTES
from jumbe.services.senders import (
    Actor,
    Application,
    ApplicationForm,
    Change,
    Document,
    Registration,
    SenderService,
    Upload,
)
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import Caller

router = APIRouter(tags=["sender IDs"])

BASE = "/api/v1/senders"
APPLICATIONS = f"{BASE}/applications"  # uploads: the body rule is the upload's
STAFF_APPLICATIONS = "/api/v1/staff/senders/applications"
MAX_APPLICATION_BYTES = 2 * MAX_DOCUMENT_BYTES + 1024 * 1024  # two documents and the fields
FIELDS = ("name", "carrier", "campaign_type", "organisation", "purpose")
# The form is read by hand (files streamed, counted), so the document says what it takes.
APPLICATION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [*FIELDS[:4], "business_registration", "authorisation_letter"],
                    "properties": {
                        **{name: {"type": "string", "maxLength": 200} for name in FIELDS},
                        "business_registration": {"type": "string", "format": "binary"},
                        "authorisation_letter": {"type": "string", "format": "binary"},
                    },
                    "example": {
                        "name": "ACME",
                        "carrier": "safaricom",
                        "campaign_type": "transactional",
                        "organisation": "Acme Logistics Ltd",
                        "purpose": "delivery notices",
                    },
                }
            }
        },
    }
}


class DefaultSender(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"sender_id": "ACME"}]})
    sender_id: str = Field(max_length=64, description="An approved name or a sender UUID")


class Review(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"to": "APPROVED"}, {"to": "REJECTED", "reason": "letter unsigned"}]
        }
    )
    to: str = Field(max_length=16, description="PROVIDER, APPROVED or REJECTED")
    reason: str | None = Field(default=None, max_length=500)


def _senders(request: Request) -> SenderService:
    senders: SenderService = request.app.state.services.senders
    return senders


def render_registration(r: Registration) -> dict[str, Any]:
    return {
        "uuid": r.uuid,
        "name": r.name,
        "kind": r.kind,
        "carrier": r.carrier,
        "campaign_type": r.campaign_type,
        "status": r.status,
        "default": r.is_default,
        "application_uuid": r.application_uuid,
        "created_at": iso(r.created_at),
    }


def _render_change(c: Change, *, staff_view: bool) -> dict[str, Any]:
    # customers see that staff moved it; staff see which of them did
    by = c.actor if staff_view or c.actor_kind == "member" else None
    return {
        "from": c.from_status,
        "to": c.to_status,
        "reason": c.reason,
        "by": {"kind": c.actor_kind, "name": by},
        "at": iso(c.at),
    }


def _render_document(d: Document, base: str) -> dict[str, Any]:
    return {
        "uuid": d.uuid,
        "kind": d.kind,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "filename": d.filename,
        "created_at": iso(d.created_at),
        "url": f"{base}/documents/{d.uuid}",
    }


def render_application(a: Application, *, staff_view: bool = False) -> dict[str, Any]:
    base = f"{STAFF_APPLICATIONS if staff_view else APPLICATIONS}/{a.uuid}"
    body: dict[str, Any] = {
        "uuid": a.uuid,
        "name": a.name,
        "kind": a.kind,
        "carrier": a.carrier,
        "campaign_type": a.campaign_type,
        "organisation": a.organisation,
        "purpose": a.purpose,
        "status": a.status,
        "reason": a.reason,
        "registration_uuid": a.registration_uuid,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.status_at),
        "documents": [_render_document(d, base) for d in a.documents],
        "history": [_render_change(c, staff_view=staff_view) for c in a.history],
    }
    if staff_view:
        body["account"] = {"id": a.account_id, "name": a.account_name}
    return body


def _download(document: Document, path: Path) -> FileResponse:
    return FileResponse(
        path,
        media_type=document.content_type,
        filename=document.filename,
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )


async def _page(
    request: Request, account_id: int | None, status: str | None, page: int, page_size: int
) -> dict[str, Any]:
    """A page of one account's applications, or (``None``: staff) of every account's."""
    found, total = await _senders(request).applications(
        account_id, status=status, page=page, page_size=page_size
    )
    items = [render_application(a, staff_view=account_id is None) for a in found]
    return paged(items, page=page, page_size=page_size, total=total)


# the customer's routes ----------------------------------------------------------


@router.get(
    BASE,
    summary="The account's sender IDs: one registration per name and carrier",
    **documented(list[RegistrationOut]),
)
async def list_senders(
    request: Request, caller: Caller = scope("messages", session=True, permission="view")
) -> dict[str, Any]:
    found = await _senders(request).registrations(caller.account_id)
    return ok([render_registration(r) for r in found])


@router.put(
    f"{BASE}/default",
    summary="Set the team's default sender ID",
    **documented(RegistrationOut, 404, 409),
)
async def set_default(
    body: DefaultSender, request: Request, member: Caller = Depends(signed_in)
) -> dict[str, Any]:
    chosen = await _senders(request).set_default(member, body.sender_id)
    return ok(render_registration(chosen))


@router.post(
    APPLICATIONS,
    summary="Apply for a sender ID on one carrier, with KYC documents",
    openapi_extra=APPLICATION_BODY,
    **documented(ApplicationOut, 409),
)
async def apply(request: Request, member: Caller = Depends(signed_in)) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            "send the application as multipart/form-data: the fields "
            + ", ".join(FIELDS)
            + " and the files business_registration and authorisation_letter"
        )
    form = await request.form(max_files=4, max_fields=16)
    try:
        values: dict[str, str] = {}
        uploads: list[Upload] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads.append(Upload(key, value.file, value.filename or ""))
            elif key in values:
                raise InvalidRequest(f"{key} is given twice")
            else:
                values[key] = value
        name = values.get("name", values.get("sender_name", ""))
        missing = [f for f in FIELDS[:4] if not (name if f == "name" else values.get(f))]
        if missing:
            raise InvalidRequest(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required"
            )
        application = await _senders(request).apply(
            member,
            ApplicationForm(
                name=name,
                carrier=values["carrier"],
                campaign_type=values["campaign_type"],
                organisation=values["organisation"],
                purpose=values.get("purpose", ""),
            ),
            uploads,
        )
    finally:
        await form.close()
    return ok(render_application(application))


@router.get(
    APPLICATIONS,
    summary="The account's applications, newest first",
    **documented(Page[ApplicationOut]),
)
async def list_applications(
    request: Request,
    member: Caller = Depends(signed_in),
    status: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return await _page(request, member.account_id, status, page, page_size)


@router.get(
    f"{APPLICATIONS}/{{uuid}}",
    summary="One application with its history and documents",
    **documented(ApplicationOut, 404),
)
async def get_application(
    uuid: str, request: Request, member: Caller = Depends(signed_in)
) -> dict[str, Any]:
    return ok(render_application(await _senders(request).application(member.account_id, uuid)))


@router.get(
    f"{APPLICATIONS}/{{uuid}}/documents/{{document}}",
    summary="Download a KYC document",
    **download(404),
)
async def get_document(
    uuid: str, document: str, request: Request, member: Caller = Depends(signed_in)
) -> FileResponse:
    found, path = await _senders(request).document(member.account_id, uuid, document)
    return _download(found, path)


# staff ----------------------------------------------------------------------------


@router.get(
    STAFF_APPLICATIONS,
    summary="Every account's applications (staff only)",
    **documented(Page[StaffApplicationOut]),
)
async def staff_list(
    request: Request,
    staff: StaffCaller = Depends(require_staff),
    status: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return await _page(request, None, status, page, page_size)


@router.get(
    f"{STAFF_APPLICATIONS}/{{uuid}}",
    summary="One application (staff only)",
    **documented(StaffApplicationOut, 404),
)
async def staff_get(
    uuid: str, request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    found = await _senders(request).application(None, uuid)
    return ok(render_application(found, staff_view=True))


@router.post(
    f"{STAFF_APPLICATIONS}/{{uuid}}/review",
    summary="Move an application (staff only)",
    **documented(StaffApplicationOut, 404, 409),
)
async def staff_review(
    uuid: str, body: Review, request: Request, staff: StaffCaller = Depends(require_staff)
) -> dict[str, Any]:
    moved = await _senders(request).review(Actor.of_staff(staff), uuid, body.to, body.reason)
    return ok(render_application(moved, staff_view=True))


@router.get(
    f"{STAFF_APPLICATIONS}/{{uuid}}/documents/{{document}}",
    summary="Download a KYC document (staff only)",
    **download(404),
)
async def staff_document(
    uuid: str, document: str, request: Request, staff: StaffCaller = Depends(require_staff)
) -> FileResponse:
    found, path = await _senders(request).document(None, uuid, document)
    return _download(found, path)
