"""REST v1 contacts and groups, as the Mobile Sasa document has them.

``/contacts`` takes the ``contacts`` scope, ``/groups`` the ``groups`` scope
(a member signed in needs ``manage_contacts``). Phones are answered in E.164
with the ``+``; any Kenyan form is accepted. ``DELETE /groups/{uuid}/contacts/
{phone}`` takes the phone URL-encoded (``%2B254712345678``) as the document's
example does, or without the ``+``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.contact_schemas import ContactOut, Deleted, GroupOut, RemovedMember
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import Page, documented
from jumbe.faces.state import services_of
from jumbe.services.contacts import Contact, ContactService, Group
from jumbe.services.contacts import Page as ContactPage
from jumbe.services.tokens import Caller

router = APIRouter(tags=["contacts"])

CONTACTS = "/api/v1/contacts"
GROUPS = "/api/v1/groups"
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
