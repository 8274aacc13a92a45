"""REST v1 message templates (Jumbe's own: the Mobile Sasa document has none).

Kimisms ties a template to a contact group and writes placeholders with the
group's CSV header names (``{name}``); these routes keep that. They take the
``campaigns`` scope (a member signed in needs ``manage_campaigns`` to change
one), since templates exist to be sent in campaigns.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.contact_schemas import Deleted, PreviewOut, TemplateOut
from jumbe.faces.rest.contacts import e164
from jumbe.faces.rest.envelope import ok
from jumbe.faces.rest.schemas import documented
from jumbe.faces.state import services_of
from jumbe.services.templates import Template, TemplateService
from jumbe.services.tokens import Caller

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class NewTemplate(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "name": "Payment received",
                    "group_id": "5d1e0f9a-8c2b-4f7e-9d3a-1b2c3d4e5f60",
                    "body": "Hi {name}, your payment of KES {amount} has been received.",
                }
            ]
        },
    )
    name: str = Field(max_length=100, description="Unique within your team")
    group_id: str = Field(max_length=64, description="The contact group's UUID")
    body: str = Field(max_length=1600, description="Text with {header} placeholders")


class TemplateChanges(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"body": "Dear {name}, thank you."}]}
    )
    name: str | None = Field(default=None, max_length=100)
    body: str | None = Field(default=None, max_length=1600)


class PreviewFor(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"phone": "+254712345678"}]}
    )
    contact: str | None = Field(default=None, max_length=64, description="A contact's UUID")
    phone: str | None = Field(default=None, max_length=32, description="Or its phone number")


def _templates(request: Request) -> TemplateService:
    return services_of(request).templates


def render(t: Template) -> dict[str, Any]:
    return {
        "uuid": t.uuid,
        "name": t.name,
        "group": {"uuid": t.group_uuid, "name": t.group_name},
        "body": t.body,
        "placeholders": t.placeholders,
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
    }


@router.get("", summary="List templates", **documented(list[TemplateOut]))
async def list_templates(
    request: Request, caller: Caller = scope("campaigns", session=True, permission="view")
) -> dict[str, Any]:
    return ok([render(t) for t in await _templates(request).list(caller.account_id)])


@router.post(
    "",
    summary="Create a template (unknown placeholders refused)",
    **documented(TemplateOut, 404, 409),
)
async def create_template(
    body: NewTemplate,
    request: Request,
    caller: Caller = scope("campaigns", session=True, permission="manage_campaigns"),
) -> dict[str, Any]:
    made = await _templates(request).create(caller.account_id, body.name, body.group_id, body.body)
    return ok(render(made))


@router.get("/{uuid}", summary="Get a template", **documented(TemplateOut, 404))
async def get_template(
    uuid: str,
    request: Request,
    caller: Caller = scope("campaigns", session=True, permission="view"),
) -> dict[str, Any]:
    return ok(render(await _templates(request).get(caller.account_id, uuid)))


@router.put(
    "/{uuid}", summary="Change a template's name or body", **documented(TemplateOut, 404, 409)
)
async def update_template(
    uuid: str,
    body: TemplateChanges,
    request: Request,
    caller: Caller = scope("campaigns", session=True, permission="manage_campaigns"),
) -> dict[str, Any]:
    changed = await _templates(request).update(
        caller.account_id, uuid, name=body.name, body=body.body
    )
    return ok(render(changed))


@router.delete("/{uuid}", summary="Delete a template", **documented(Deleted, 404))
async def delete_template(
    uuid: str,
    request: Request,
    caller: Caller = scope("campaigns", session=True, permission="manage_campaigns"),
) -> dict[str, Any]:
    await _templates(request).delete(caller.account_id, uuid)
    return ok({"uuid": uuid, "deleted": True})


@router.post(
    "/{uuid}/preview",
    summary="The template filled for one contact, with its parts and units",
    **documented(PreviewOut, 404),
)
async def preview_template(
    uuid: str,
    body: PreviewFor,
    request: Request,
    caller: Caller = scope("campaigns", session=True, permission="view"),
) -> dict[str, Any]:
    shown = await _templates(request).preview(
        caller.account_id, uuid, contact=body.contact, phone=body.phone
    )
    return ok(
        {
            "template": shown.template_uuid,
            "contact": shown.contact.uuid,
            "phone": e164(shown.contact.phone),
            "message": shown.message,
            "characters": shown.characters,
            "parts": shown.parts,
            "units": shown.units,
            "encoding": shown.encoding,
        }
    )
