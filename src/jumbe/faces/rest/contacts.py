"""REST v1 contacts and groups, as the Mobile Sasa document has them.

``/contacts`` takes the ``contacts`` scope, ``/groups`` the ``groups`` scope
(a member signed in needs ``manage_contacts``). Phones are answered in E.164
with the ``+``; any Kenyan form is accepted. ``DELETE /groups/{uuid}/contacts/
{phone}`` takes the phone URL-encoded (``%2B254712345678``) as the document's
example does, or without the ``+``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.contact_schemas import (
    ContactOut,
    Deleted,
    GroupOut,
    RemovedMember,
    UploadOut,
)
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import Page, Rejection, documented
from jumbe.faces.state import services_of
from jumbe.services.contact_imports import Upload
from jumbe.services.contacts import Contact, ContactService, Group
from jumbe.services.contacts import Page as ContactPage
from jumbe.services.errors import InvalidRequest
from jumbe.services.tokens import Caller

router = APIRouter(tags=["contacts"])

CONTACTS = "/api/v1/contacts"
GROUPS = "/api/v1/groups"
IMPORT = f"{CONTACTS}/import"  # uploads: the body rule is JUMBE_HTTP_MAX_UPLOAD's
UPLOADS = f"{CONTACTS}/uploads"
CSV_EXAMPLE = "number,name,amount\n254712345678,John Doe,1500\n0723456789,Jane Smith,2300\n"


def upload_body(file: str, example: dict[str, str], **fields: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI request body of a multipart upload (the route reads it by hand)."""
    properties = {"file": {"type": "string", "format": "binary", "description": file}, **fields}
    schema = {"type": "object", "properties": properties, "required": ["file"]}
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema, "example": example}},
        }
    }


IMPORT_BODY = upload_body(
    "CSV (UTF-8) or XLSX: a first column number or a column phone, up to six more as custom fields",
    {"file": CSV_EXAMPLE, "group": "June customers"},
    group={"type": "string", "description": "The group to put the contacts in (made if new)"},
    description={"type": "string", "description": "A new group's"},
    remove_duplicates={"type": "boolean", "description": "Refuse a number's later lines"},
)
# The rejected lines: CSV (the download), or JSON in the envelope with ?format=json.
ERRORS_CSV = {"text/csv": {"schema": {"type": "string"}, "example": "line,reason\r\n"}}
ERRORS_JSON_LIMIT = 1000


def _with_csv(documented: dict[str, Any]) -> dict[str, Any]:
    documented["responses"][200]["content"] = ERRORS_CSV
    return documented


TRUE = ("1", "true", "yes", "on")
STANDARD = ("first_name", "last_name", "email", "notes")


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    first_name: str | None = Field(default=None, max_length=100, description="First name")
    last_name: str | None = Field(default=None, max_length=100, description="Last name")
    email: str | None = Field(default=None, max_length=254, description="Email address")
    notes: str | None = Field(default=None, max_length=2000, description="Free-text notes")
    fields: dict[str, str] | None = Field(
        default=None, description="Up to six custom fields, keyed by their header names"
    )

    def standard(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in STANDARD if getattr(self, k) is not None}


class NewContact(ContactFields):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+254712345678",
                    "first_name": "Jane",
                    "last_name": "Doe",
                    "email": "jane@example.com",
                }
            ]
        },
    )
    phone: str = Field(max_length=32, description="Phone number in E.164 format")


class ContactChanges(ContactFields):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"first_name": "Janet"}]}
    )
    phone: str | None = Field(default=None, max_length=32, description="Phone number")


class NewGroup(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"name": "VIP Customers", "description": "High-value customer segment"}]
        },
    )
    name: str = Field(max_length=100, description="Group name (unique within your team)")
    description: str = Field(default="", max_length=500, description="Optional description")


class Member(ContactFields):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"phone": "+254712345678"}]}
    )
    phone: str = Field(max_length=32, description="Phone number to add to the group")


def _contacts(request: Request) -> ContactService:
    return services_of(request).contacts


def e164(msisdn: str) -> str:
    return "+" + msisdn


def render_contact(c: Contact) -> dict[str, Any]:
    return {
        "uuid": c.uuid,
        "phone": e164(c.phone),
        "carrier": c.carrier,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "notes": c.notes,
        "fields": c.fields,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def render_group(g: Group) -> dict[str, Any]:
    return {
        "uuid": g.uuid,
        "name": g.name,
        "description": g.description,
        "headers": list(g.headers),
        "contact_count": g.contact_count,
        "created_at": iso(g.created_at),
    }


@contextlib.asynccontextmanager
async def uploaded(
    request: Request, example: str
) -> AsyncIterator[tuple[UploadFile, dict[str, str]]]:
    """The one file of a multipart upload and its text fields, the spool closed after."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(f"send the file as multipart/form-data (curl -F file=@{example})")
    form = await request.form(max_files=1, max_fields=8)
    try:
        files = [v for v in form.values() if isinstance(v, UploadFile)]
        if len(files) != 1:
            raise InvalidRequest("send one file (CSV or XLSX) in the multipart field file")
        yield files[0], {k: v for k, v in form.multi_items() if isinstance(v, str)}
    finally:
        await form.close()


def render_upload(u: Upload) -> dict[str, Any]:
    return {
        "uuid": u.uuid,
        "status": u.status,
        "detail": u.detail,
        "filename": u.filename,
        "kind": u.kind,
        "group": {"uuid": u.group_uuid, "name": u.group_name or ""} if u.group_uuid else None,
        "remove_duplicates": u.remove_duplicates,
        "rows_read": u.rows_read,
        "accepted": u.accepted,
        "rejected": u.rejected,
        "errors": [{"line": e.line, "reason": e.reason} for e in u.errors],
        "errors_csv": f"{UPLOADS}/{u.uuid}/errors",
        "created_at": iso(u.created_at),
        "finished_at": iso(u.finished_at) if u.finished_at else None,
    }


def _paged(found: ContactPage[Contact], page: int, page_size: int) -> dict[str, Any]:
    items = [render_contact(c) for c in found.items]
    return paged(items, page=page, page_size=page_size, total=found.total)


PAGE = Annotated[int, Query(ge=1, le=1_000_000, description="Page number (default 1)")]
PAGE_SIZE = Annotated[int, Query(ge=1, le=100, description="Results per page (default 20)")]


# contacts ---------------------------------------------------------------------------


@router.get(CONTACTS, summary="List contacts", **documented(Page[ContactOut]))
async def list_contacts(
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="view"),
    page: PAGE = 1,
    page_size: PAGE_SIZE = 20,
    search: Annotated[
        str | None, Query(max_length=100, description="Filter by name or phone")
    ] = None,
) -> dict[str, Any]:
    found = await _contacts(request).page(
        caller.account_id, page=page, page_size=page_size, search=search
    )
    return _paged(found, page, page_size)


@router.post(CONTACTS, summary="Create a contact", **documented(ContactOut, 409))
async def create_contact(
    body: NewContact,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    made = await _contacts(request).create(
        caller.account_id, body.phone, body.standard(), body.fields
    )
    return ok(render_contact(made))


@router.post(
    IMPORT,
    summary="Import contacts from a CSV or XLSX file, in the background",
    openapi_extra=IMPORT_BODY,
    **documented(UploadOut, 413),
)
async def import_contacts(
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    """The answer comes once the file is checked and queued; poll ``/contacts/uploads/{uuid}``."""
    async with uploaded(request, "contacts.csv") as (file, fields):
        upload = await services_of(request).contact_imports.submit(
            caller.account_id,
            file.file,
            filename=file.filename or "",
            group=fields.get("group"),
            description=fields.get("description", ""),
            remove_duplicates=fields.get("remove_duplicates", "").strip().lower() in TRUE,
        )
    return ok(render_upload(upload))


@router.get(
    f"{UPLOADS}/{{uuid}}",
    summary="An import's status, counts and first rejected lines",
    **documented(UploadOut, 404),
)
async def get_upload(
    uuid: str,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="view"),
) -> dict[str, Any]:
    return ok(
        render_upload(await services_of(request).contact_imports.upload(caller.account_id, uuid))
    )


@router.get(
    f"{UPLOADS}/{{uuid}}/errors",
    summary="Download every rejected line of an import as CSV",
    response_class=StreamingResponse,
    **_with_csv(documented(list[Rejection], 404)),
)
async def get_upload_errors(
    uuid: str,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="view"),
    format: Annotated[
        Literal["csv", "json"],
        Query(description="csv (the download) or json (the first 1,000 lines, enveloped)"),
    ] = "csv",
) -> Response:
    pages = await services_of(request).contact_imports.errors(caller.account_id, uuid)
    if format == "json":
        found: list[dict[str, Any]] = []
        async for page in pages:
            found.extend({"line": e.line, "reason": e.reason} for e in page)
            if len(found) >= ERRORS_JSON_LIMIT:
                break
        return JSONResponse(ok(found[:ERRORS_JSON_LIMIT]))

    async def lines() -> AsyncIterator[bytes]:
        yield b"line,reason\r\n"
        async for page in pages:
            yield "".join(f"{e.line},{_csv_field(e.reason)}\r\n" for e in page).encode()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="upload-{uuid}-errors.csv"'},
    )


def _csv_field(text: str) -> str:
    """Quoted as CSV wants it; a leading formula character defused for spreadsheets."""
    if text[:1] in ("=", "+", "-", "@"):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


@router.get(f"{CONTACTS}/{{uuid}}", summary="Get a contact", **documented(ContactOut, 404))
async def get_contact(
    uuid: str,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="view"),
) -> dict[str, Any]:
    return ok(render_contact(await _contacts(request).get(caller.account_id, uuid)))


@router.put(
    f"{CONTACTS}/{{uuid}}",
    summary="Update a contact (only the fields given change)",
    **documented(ContactOut, 404, 409),
)
async def update_contact(
    uuid: str,
    body: ContactChanges,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    changes = body.standard()
    if body.phone is not None:
        changes["phone"] = body.phone
    changed = await _contacts(request).update(caller.account_id, uuid, changes, body.fields)
    return ok(render_contact(changed))


@router.delete(f"{CONTACTS}/{{uuid}}", summary="Delete a contact", **documented(Deleted, 404))
async def delete_contact(
    uuid: str,
    request: Request,
    caller: Caller = scope("contacts", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    await _contacts(request).delete(caller.account_id, uuid)
    return ok({"uuid": uuid, "deleted": True})


# groups -----------------------------------------------------------------------------


@router.get(GROUPS, summary="List groups", **documented(list[GroupOut]))
async def list_groups(
    request: Request, caller: Caller = scope("groups", session=True, permission="view")
) -> dict[str, Any]:
    return ok([render_group(g) for g in await _contacts(request).groups(caller.account_id)])


@router.post(GROUPS, summary="Create a group", **documented(GroupOut, 409))
async def create_group(
    body: NewGroup,
    request: Request,
    caller: Caller = scope("groups", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    made = await _contacts(request).create_group(caller.account_id, body.name, body.description)
    return ok(render_group(made))


@router.get(f"{GROUPS}/{{uuid}}", summary="Get a group", **documented(GroupOut, 404))
async def get_group(
    uuid: str, request: Request, caller: Caller = scope("groups", session=True, permission="view")
) -> dict[str, Any]:
    return ok(render_group(await _contacts(request).group(caller.account_id, uuid)))


@router.get(
    f"{GROUPS}/{{uuid}}/contacts",
    summary="List the contacts in a group",
    **documented(Page[ContactOut], 404),
)
async def list_members(
    uuid: str,
    request: Request,
    caller: Caller = scope("groups", session=True, permission="view"),
    page: PAGE = 1,
    page_size: PAGE_SIZE = 20,
) -> dict[str, Any]:
    found = await _contacts(request).members(
        caller.account_id, uuid, page=page, page_size=page_size
    )
    return _paged(found, page, page_size)


@router.post(
    f"{GROUPS}/{{uuid}}/contacts",
    summary="Add a contact to the group (made if the number is new)",
    **documented(ContactOut, 404),
)
async def add_member(
    uuid: str,
    body: Member,
    request: Request,
    caller: Caller = scope("groups", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    added = await _contacts(request).add_member(
        caller.account_id, uuid, body.phone, body.standard(), body.fields
    )
    return ok(render_contact(added))


@router.delete(
    f"{GROUPS}/{{uuid}}/contacts/{{phone}}",
    summary="Remove a contact from the group by phone number",
    **documented(RemovedMember, 404),
)
async def remove_member(
    uuid: str,
    phone: str,
    request: Request,
    caller: Caller = scope("groups", session=True, permission="manage_contacts"),
) -> dict[str, Any]:
    msisdn = await _contacts(request).remove_member(caller.account_id, uuid, phone)
    return ok({"group": uuid, "phone": e164(msisdn), "removed": True})
