"""Message templates of a group: checked when saved, previewed for one contact.

A template belongs to a group because its placeholders are that group's
headers (the custom columns its contacts were imported with), beside the
contact's own ``first_name``, ``last_name``, ``email`` and ``phone``. An
unknown placeholder is refused when the template is saved, naming it, so a
campaign never sends "Hi {nmae}". Units are counted per recipient after
substitution (``units``), by the account's pricing rule, because "Hi Jo" and
"Hi Wanjiku-Kamau" may not need the same number of parts.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Row

from jumbe.core.clock import utcnow
from jumbe.core.pricing import Pricing, units_for
from jumbe.core.segments import segment
from jumbe.core.templates import TemplateError, fill, placeholders
from jumbe.services.contacts import Contact, ContactService
from jumbe.services.errors import Conflict, InvalidRequest, NotFound
from jumbe.services.pricing import account_pricing
from jumbe.store.database import Database
from jumbe.store.schema import contact_groups, templates

BUILT_IN = ("first_name", "last_name", "email", "phone")
MAX_BODY = 1600


@dataclass(frozen=True, slots=True)
class Template:
    uuid: str
    name: str
    group_uuid: str
    group_name: str
    body: str
    placeholders: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Preview:
    template_uuid: str
    contact: Contact
    message: str
    characters: int
    parts: int
    units: int
    encoding: str


def values_of(contact: Contact) -> dict[str, str]:
    """What a template's placeholders read from one contact."""
    return {
        **contact.fields,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": "+" + contact.phone,
    }


def units(pricing: Pricing, text: str) -> tuple[int, int, str]:
    """(parts, units, encoding) of one recipient's text."""
    layout = segment(text)
    return (
        layout.count,
        units_for(pricing, characters=len(text), segments=layout.count),
        (layout.encoding.value),
    )


def _template(row: Row[Any]) -> Template:
    return Template(
        uuid=row.uuid,
        name=row.name,
        group_uuid=row.g_uuid,
        group_name=row.g_name,
        body=row.body,
        placeholders=placeholders(row.body),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_SELECT = select(
    templates, contact_groups.c.uuid.label("g_uuid"), contact_groups.c.name.label("g_name")
).join(contact_groups, contact_groups.c.id == templates.c.group_id)


class TemplateService:
    def __init__(self, db: Database, contacts: ContactService) -> None:
        self.db = db
        self.contacts = contacts

    async def list(self, account_id: int) -> list[Template]:
        query = _SELECT.where(templates.c.account_id == account_id).order_by(templates.c.name)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [_template(r) for r in rows]

    async def get(self, account_id: int, uuid: str) -> Template:
        return await self.db.read(lambda conn: _template(self._row(conn, account_id, uuid)))

    async def create(self, account_id: int, name: str, group_uuid: str, body: str) -> Template:
        name = _name(name)
        now = utcnow()

        def write(conn: Connection) -> Template:
            group = self.contacts.group_row(conn, account_id, group_uuid)
            _check(body, group.headers)
            inserted = conn.execute(
                self.db.insert(templates)
                .on_conflict_do_nothing()
                .values(
                    uuid=str(uuidlib.uuid4()),
                    account_id=account_id,
                    group_id=group.id,
                    name=name,
                    body=body,
                    created_at=now,
                    updated_at=now,
                )
                .returning(templates.c.uuid)
            ).scalar()
            if inserted is None:
                raise Conflict(f"a template named {name!r} already exists")
            return _template(self._row(conn, account_id, inserted))

        return await self.db.write(write)

    async def update(
        self, account_id: int, uuid: str, *, name: str | None, body: str | None
    ) -> Template:
        def write(conn: Connection) -> Template:
            found = self._row(conn, account_id, uuid)
            values: dict[str, Any] = {"updated_at": utcnow()}
            if name is not None:
                values["name"] = _name(name)
                clash = conn.execute(
                    select(templates.c.id).where(
                        templates.c.account_id == account_id,
                        templates.c.name == values["name"],
                        templates.c.id != found.id,
                    )
                ).first()
                if clash is not None:
                    raise Conflict(f"a template named {values['name']!r} already exists")
            if body is not None:
                headers = conn.execute(
                    select(contact_groups.c.headers).where(contact_groups.c.id == found.group_id)
                ).scalar_one()
                _check(body, headers)
                values["body"] = body
            conn.execute(update(templates).where(templates.c.id == found.id).values(values))
            return _template(self._row(conn, account_id, uuid))

        return await self.db.write(write)

    async def delete(self, account_id: int, uuid: str) -> None:
        def write(conn: Connection) -> None:
            found = self._row(conn, account_id, uuid)
            conn.execute(delete(templates).where(templates.c.id == found.id))

        await self.db.write(write)

    async def preview(
        self, account_id: int, uuid: str, *, contact: str | None, phone: str | None
    ) -> Preview:
        """The template filled for one of the account's contacts (by uuid or phone)."""
        template = await self.get(account_id, uuid)
        if contact:
            chosen = await self.contacts.get(account_id, contact)
        elif phone:
            chosen = await self.contacts.by_phone(account_id, phone)
        else:
            raise InvalidRequest("name the contact: contact (its uuid) or phone")
        pricing = await self.db.read(lambda conn: account_pricing(conn, [account_id]))
        text = fill(template.body, values_of(chosen))
        parts, charged, encoding = units(pricing.get(account_id, Pricing.SEGMENTS), text)
        return Preview(template.uuid, chosen, text, len(text), parts, charged, encoding)

    @staticmethod
    def _row(conn: Connection, account_id: int, uuid: str) -> Row[Any]:
        row = conn.execute(
            _SELECT.where(templates.c.account_id == account_id, templates.c.uuid == uuid)
        ).first()
        if row is None:
            raise NotFound("template not found")
        return row


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidRequest("name must be 1 to 100 characters")
    return name


def _check(body: str, headers_json: str) -> None:
    """InvalidRequest naming each placeholder the group's headers do not have."""
    if not body.strip() or len(body) > MAX_BODY:
        raise InvalidRequest(f"body must be 1 to {MAX_BODY} characters")
    try:
        used = placeholders(body)
    except TemplateError as exc:
        raise InvalidRequest(str(exc)) from None
    known = [*json.loads(headers_json), *BUILT_IN]
    unknown = [p for p in used if p not in known]
    if unknown:
        raise InvalidRequest(
            f"unknown placeholder{'s' if len(unknown) > 1 else ''}"
            f" {', '.join('{' + p + '}' for p in unknown)}; this group's are"
            f" {', '.join('{' + k + '}' for k in known)}"
        )
