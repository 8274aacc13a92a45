"""Contacts and groups of an account: the audience of campaigns.

A contact is one number per account, normalised once and stored with its
carrier, so campaigns route each one to a sender of its network without
looking the number up again. Custom fields (at most six, as Kimisms' upload
has) are kept under the header names of the file they came from, because
templates name them that way (``{name}``, ``{amount}``). Every query is
scoped to the caller's account: another account's uuid is simply not found.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from jumbe.core.clock import utcnow
from jumbe.services.errors import Conflict, InvalidRequest, NotFound
from jumbe.services.numbering import NumberingService
from jumbe.store.database import Database
from jumbe.store.schema import contact_groups, contacts, group_members

T = TypeVar("T")

MAX_FIELDS = 6
# the contact's own columns: a file or a template may name them beside custom fields
STANDARD = ("first_name", "last_name", "email", "notes")
LIMITS = {"first_name": 100, "last_name": 100, "email": 254, "notes": 2000}
MAX_FIELD_VALUE = 500
MAX_HEADER = 64


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    uuid: str
    phone: str  # international digits
    carrier: str
    first_name: str
    last_name: str
    email: str
    notes: str
    fields: dict[str, str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    uuid: str
    name: str
    description: str
    headers: tuple[str, ...]
    contact_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def checked_text(name: str, value: str) -> str:
    """A standard column's value, trimmed; InvalidRequest naming it when it cannot be stored."""
    value = value.strip()
    if len(value) > LIMITS[name]:
        raise InvalidRequest(f"{name} is longer than {LIMITS[name]} characters")
    if name == "email" and value and ("@" not in value or any(c.isspace() for c in value)):
        raise InvalidRequest(f"email {value!r} is not an email address")
    return value


def checked_fields(fields: Mapping[str, str]) -> dict[str, str]:
    if len(fields) > MAX_FIELDS:
        raise InvalidRequest(f"a contact has at most {MAX_FIELDS} custom fields")
    clean: dict[str, str] = {}
    for key, value in fields.items():
        header = checked_header(key)
        if not isinstance(value, str) or len(value) > MAX_FIELD_VALUE:
            raise InvalidRequest(f"field {header!r} must be text of at most {MAX_FIELD_VALUE}")
        clean[header] = value.strip()
    return clean


def checked_header(raw: str) -> str:
    """A custom field's name as a template will write it between braces."""
    header = raw.strip() if isinstance(raw, str) else ""
    if not header or len(header) > MAX_HEADER or any(c in header for c in "{}\r\n"):
        raise InvalidRequest(
            f"custom field name {raw!r} must be 1 to {MAX_HEADER} characters without braces"
        )
    return header


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        uuid=row.uuid,
        phone=row.msisdn,
        carrier=row.carrier,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        notes=row.notes,
        fields=json.loads(row.fields),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _group(row: Row[Any], count: int) -> Group:
    return Group(
        id=row.id,
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        headers=tuple(json.loads(row.headers)),
        contact_count=count,
        created_at=row.created_at,
    )


def new_uuid() -> str:
    """A random (version 4) UUID as text: ``str(uuid4())`` at half the cost, which an
    import of a million contacts notices."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def fields_json(keys: Sequence[str]) -> Callable[[Sequence[str]], str]:
    """The JSON object of custom fields under ``keys``, for values in that order, built
    without ``json.dumps`` per row (the keys are escaped once)."""
    encoded = [encode_basestring(k) + ":" for k in keys]

    def encode(values: Sequence[str]) -> str:
        return (
            "{"
            + ",".join(k + encode_basestring(v) for k, v in zip(encoded, values, strict=True))
            + "}"
        )

    return encode


def new_contact(
    account_id: int,
    msisdn: str,
    carrier: str,
    values: Mapping[str, str],
    fields: Mapping[str, str] | str,
    now: datetime,
) -> dict[str, Any]:
    """A new contact's row: the standard columns not given are empty; ``fields`` as a
    mapping, or already as JSON."""
    return {
        "uuid": new_uuid(),
        "account_id": account_id,
        "msisdn": msisdn,
        "carrier": carrier,
        **dict.fromkeys(STANDARD, ""),
        **values,
        "fields": fields if isinstance(fields, str) else json.dumps(fields, ensure_ascii=False),
        "created_at": now,
        "updated_at": now,
    }


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def merged_headers(existing: tuple[str, ...], new: list[str]) -> list[str]:
    """The group's headers with ``new`` ones added after them, in file order."""
    return [*existing, *(h for h in new if h not in existing)]


class ContactService:
    def __init__(self, db: Database, numbering: NumberingService) -> None:
        self.db = db
        self.numbering = numbering

    # contacts -------------------------------------------------------------------------

    async def page(
        self, account_id: int, *, page: int, page_size: int, search: str | None = None
    ) -> Page[Contact]:
        where = [contacts.c.account_id == account_id]
        if search and search.strip():
            pattern = _like(search.strip())
            digits = "".join(c for c in search if c.isdigit())
            matches = [
                func.lower(contacts.c.first_name).like(pattern, escape="\\"),
                func.lower(contacts.c.last_name).like(pattern, escape="\\"),
                func.lower(contacts.c.email).like(pattern, escape="\\"),
            ]
            if digits:
                # 0712… as typed matches the stored 254712…
                national = digits[1:] if digits.startswith("0") else digits
                matches.append(contacts.c.msisdn.like(f"%{national}%"))
            where.append(or_(*matches))

        def read(conn: Connection) -> Page[Contact]:
            total = conn.execute(select(func.count()).select_from(contacts).where(*where))
            rows = conn.execute(
                select(contacts)
                .where(*where)
                .order_by(contacts.c.id)
                .limit(page_size)
                .offset((page - 1) * page_size)
            )
            return Page([_contact(r) for r in rows], int(total.scalar_one()))

        return await self.db.read(read)

    async def get(self, account_id: int, uuid: str) -> Contact:
        row = await self.db.read(lambda conn: self._row(conn, account_id, uuid))
        return _contact(row)

    async def by_phone(self, account_id: int, phone: str) -> Contact:
        msisdn, _carrier = self.numbering.recipient(phone)
        query = select(contacts).where(
            contacts.c.account_id == account_id, contacts.c.msisdn == msisdn
        )
        row = await self.db.read(lambda conn: conn.execute(query).first())
        if row is None:
            raise NotFound(f"no contact with phone +{msisdn}")
        return _contact(row)

    async def create(
        self,
        account_id: int,
        phone: str,
        values: Mapping[str, str],
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        msisdn, carrier = self.numbering.recipient(phone)
        clean = {k: checked_text(k, v) for k, v in values.items() if k in STANDARD}
        custom = checked_fields(fields or {})
        row = new_contact(account_id, msisdn, carrier, clean, custom, utcnow())

        def write(conn: Connection) -> Contact:
            inserted = conn.execute(
                self.db.insert(contacts).on_conflict_do_nothing().returning(contacts).values(**row)
            ).first()
            if inserted is None:
                raise Conflict(f"a contact with phone +{msisdn} already exists")
            return _contact(inserted)

        return await self.db.write(write)

    async def update(
        self,
        account_id: int,
        uuid: str,
        changes: Mapping[str, str],
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        """Only what ``changes`` names changes; a new phone is normalised like any other."""
        values: dict[str, Any] = {
            k: checked_text(k, v) for k, v in changes.items() if k in STANDARD
        }
        if "phone" in changes:
            values["msisdn"], values["carrier"] = self.numbering.recipient(changes["phone"])
        if fields is not None:
            values["fields"] = json.dumps(checked_fields(fields), ensure_ascii=False)
        values["updated_at"] = utcnow()

        def write(conn: Connection) -> Contact:
            found = self._row(conn, account_id, uuid)
            if "msisdn" in values:
                taken = conn.execute(
                    select(contacts.c.id).where(
                        contacts.c.account_id == account_id,
                        contacts.c.msisdn == values["msisdn"],
                        contacts.c.id != found.id,
                    )
                ).first()
                if taken is not None:
                    raise Conflict(f"a contact with phone +{values['msisdn']} already exists")
            conn.execute(update(contacts).where(contacts.c.id == found.id).values(values))
            return _contact(conn.execute(select(contacts).where(contacts.c.id == found.id)).one())

        return await self.db.write(write)

    async def delete(self, account_id: int, uuid: str) -> None:
        def write(conn: Connection) -> None:
            found = self._row(conn, account_id, uuid)
            conn.execute(delete(group_members).where(group_members.c.contact_id == found.id))
            conn.execute(delete(contacts).where(contacts.c.id == found.id))

        await self.db.write(write)

    @staticmethod
    def _row(conn: Connection, account_id: int, uuid: str) -> Row[Any]:
        row = conn.execute(
            select(contacts).where(contacts.c.account_id == account_id, contacts.c.uuid == uuid)
        ).first()
        if row is None:
            raise NotFound("contact not found")
        return row

    # groups ---------------------------------------------------------------------------

    async def groups(self, account_id: int) -> list[Group]:
        counts = (
            select(group_members.c.group_id, func.count().label("n"))
            .where(group_members.c.account_id == account_id)
            .group_by(group_members.c.group_id)
            .subquery()
        )

        def read(conn: Connection) -> list[Group]:
            rows = conn.execute(
                select(contact_groups, func.coalesce(counts.c.n, 0).label("n"))
                .outerjoin(counts, counts.c.group_id == contact_groups.c.id)
                .where(contact_groups.c.account_id == account_id)
                .order_by(contact_groups.c.name)
            )
            return [_group(r, int(r.n)) for r in rows]

        return await self.db.read(read)

    async def group(self, account_id: int, uuid: str) -> Group:
        def read(conn: Connection) -> Group:
            row = self.group_row(conn, account_id, uuid)
            return _group(row, self._count(conn, row.id))

        return await self.db.read(read)

    async def create_group(self, account_id: int, name: str, description: str = "") -> Group:
        name, description = self._checked_group(name, description)
        return await self.db.write(lambda conn: self.new_group(conn, account_id, name, description))

    def new_group(
        self, conn: Connection, account_id: int, name: str, description: str = ""
    ) -> Group:
        row = conn.execute(
            self.db.insert(contact_groups)
            .on_conflict_do_nothing()
            .returning(contact_groups)
            .values(
                uuid=new_uuid(),
                account_id=account_id,
                name=name,
                description=description,
                headers="[]",
                created_at=utcnow(),
            )
        ).first()
        if row is None:
            raise Conflict(f"a group named {name!r} already exists")
        return _group(row, 0)

    @staticmethod
    def _checked_group(name: str, description: str) -> tuple[str, str]:
        name, description = name.strip(), description.strip()
        if not name or len(name) > 100:
            raise InvalidRequest("name must be 1 to 100 characters")
        if len(description) > 500:
            raise InvalidRequest("description is longer than 500 characters")
        return name, description

    @staticmethod
    def group_row(conn: Connection, account_id: int, uuid: str) -> Row[Any]:
        row = conn.execute(
            select(contact_groups).where(
                contact_groups.c.account_id == account_id, contact_groups.c.uuid == uuid
            )
        ).first()
        if row is None:
            raise NotFound("group not found")
        return row

    @staticmethod
    def _count(conn: Connection, group_id: int) -> int:
        query = select(func.count()).where(group_members.c.group_id == group_id)
        return int(conn.execute(query).scalar_one())

    async def members(
        self, account_id: int, group_uuid: str, *, page: int, page_size: int
    ) -> Page[Contact]:
        def read(conn: Connection) -> Page[Contact]:
            group = self.group_row(conn, account_id, group_uuid)
            rows = conn.execute(
                select(contacts)
                .join(group_members, group_members.c.contact_id == contacts.c.id)
                .where(group_members.c.group_id == group.id)
                .order_by(contacts.c.id)
                .limit(page_size)
                .offset((page - 1) * page_size)
            )
            return Page([_contact(r) for r in rows], self._count(conn, group.id))

        return await self.db.read(read)

    async def add_member(
        self,
        account_id: int,
        group_uuid: str,
        phone: str,
        values: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        """The number joins the group; a number the account has no contact for becomes one."""
        msisdn, carrier = self.numbering.recipient(phone)
        clean = {k: checked_text(k, v) for k, v in (values or {}).items() if k in STANDARD}
        custom = checked_fields(fields or {})
        now = utcnow()

        def write(conn: Connection) -> Contact:
            group = self.group_row(conn, account_id, group_uuid)
            found = conn.execute(
                select(contacts).where(
                    contacts.c.account_id == account_id, contacts.c.msisdn == msisdn
                )
            ).first()
            if found is None:
                row = new_contact(account_id, msisdn, carrier, clean, custom, now)
                found = conn.execute(insert(contacts).returning(contacts).values(row)).one()
            elif clean or custom:
                merged = {**json.loads(found.fields), **custom}
                if len(merged) > MAX_FIELDS:
                    raise InvalidRequest(f"a contact has at most {MAX_FIELDS} custom fields")
                conn.execute(
                    update(contacts)
                    .where(contacts.c.id == found.id)
                    .values(**clean, fields=json.dumps(merged, ensure_ascii=False), updated_at=now)
                )
                found = conn.execute(select(contacts).where(contacts.c.id == found.id)).one()
            if custom:
                headers = merged_headers(tuple(json.loads(group.headers)), list(custom))
                conn.execute(
                    update(contact_groups)
                    .where(contact_groups.c.id == group.id)
                    .values(headers=json.dumps(headers, ensure_ascii=False))
                )
            conn.execute(
                self.db.insert(group_members)
                .on_conflict_do_nothing()
                .values(group_id=group.id, contact_id=found.id, account_id=account_id)
            )
            return _contact(found)

        return await self.db.write(write)

    async def remove_member(self, account_id: int, group_uuid: str, phone: str) -> str:
        """The number (international digits) left the group; NotFound if it was not in it."""
        msisdn, _carrier = self.numbering.recipient(phone)

        def write(conn: Connection) -> None:
            group = self.group_row(conn, account_id, group_uuid)
            contact_id = conn.execute(
                select(contacts.c.id).where(
                    contacts.c.account_id == account_id, contacts.c.msisdn == msisdn
                )
            ).scalar()
            removed = 0
            if contact_id is not None:
                removed = conn.execute(
                    delete(group_members).where(
                        group_members.c.group_id == group.id,
                        group_members.c.contact_id == contact_id,
                    )
                ).rowcount
            if not removed:
                raise NotFound(f"+{msisdn} is not in this group")

        await self.db.write(write)
        return msisdn
