"""Messages to and from IoT SIMs: the SIM portal's and the M2M API's view of the one store.

A device message is an ordinary message row (same pipeline, ledger debit,
receipts, SMPP and REST visibility) that also carries its SIM. What is
particular to devices lives here: only active SIMs take messages, the SIM's
type decides whether binary content and a chosen origin are allowed, the
message may wait for an unreachable device for days (``validity``), and the
operator queues at most ``queue_limit`` unfinished messages per SIM (checked
by ``MessagingService`` in the transaction that stores the message).

The SIM portal's "delete" hides messages from the portal's own lists only:
the rows stay, for the ledger, receipts and the native API.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from jumbe.core import sim_identifiers
from jumbe.core.clock import utcnow
from jumbe.core.sim_identifiers import COUNTRY_CODE, InvalidIdentifier, international
from jumbe.core.sim_lifecycle import SimState
from jumbe.core.sim_types import sim_type
from jumbe.core.status import MessageStatus
from jumbe.services.errors import Conflict, InvalidRequest, NotFound, UnknownSim
from jumbe.services.messaging import Device, MessagingService, SendRequest
from jumbe.services.sims import sim_number
from jumbe.store.database import Database
from jumbe.store.schema import account_numbers, accounts, message_parts, messages, sims

MAX_PAGE_SIZE = 1000
MAX_PAGE_NO = 10_000_000  # a page's offset must stay a number the database can hold
M2M = "m2m"  # the M2M XML API's source name
_ORIGIN = re.compile(r"\d{3,15}")
_SEARCH = re.compile(r"[\d*]{1,15}")


@dataclass(frozen=True, slots=True)
class DeviceMessage:
    """One message of a SIM's thread, either way."""

    id: int
    direction: str  # mt: to the device, mo: its reply
    source: str  # the face it came through: sim-portal, m2m, rest, smpp; carrier for replies
    sender: str
    sim_msisdn: str  # international: 254300000003036
    iccid: str
    body: str
    encoding: str
    status: MessageStatus
    status_at: datetime
    status_detail: str
    created_at: datetime
    carrier_message_id: str | None
    client_ref: str | None
    vpn_group: str


@dataclass(frozen=True, slots=True)
class DevicePage:
    items: list[DeviceMessage]
    total: int


_first_part = message_parts.alias("first_part")
_COLUMNS = (
    messages.c.id,
    messages.c.direction,
    messages.c.source,
    messages.c.sender,
    messages.c.body,
    messages.c.encoding,
    messages.c.status,
    messages.c.status_at,
    messages.c.status_detail,
    messages.c.created_at,
    messages.c.client_ref,
    sims.c.msisdn.label("sim_msisdn"),
    sims.c.iccid,
    accounts.c.vpn_group,
    _first_part.c.carrier_message_id,
)


def _select() -> Any:
    return (
        select(*_COLUMNS)
        .join(sims, sims.c.id == messages.c.sim_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .outerjoin(
            _first_part,
            and_(_first_part.c.message_id == messages.c.id, _first_part.c.part_no == 1),
        )
    )


def _view(row: Any) -> DeviceMessage:
    return DeviceMessage(
        id=row.id,
        direction=row.direction,
        source=row.source,
        sender=row.sender,
        sim_msisdn=international(row.sim_msisdn),
        iccid=row.iccid,
        body=row.body,
        encoding=row.encoding,
        status=MessageStatus(row.status),
        status_at=row.status_at,
        status_detail=row.status_detail,
        created_at=row.created_at,
        carrier_message_id=row.carrier_message_id,
        client_ref=row.client_ref,
        vpn_group=row.vpn_group,
    )


def _sim_pattern(value: str) -> ColumnElement[bool]:
    """A SIM number, with or without 254, where each ``*`` stands for one unknown digit."""
    raw = value.strip().removeprefix("+")
    if not _SEARCH.fullmatch(raw):
        raise InvalidRequest("searchValue must be a SIM number; * stands for one unknown digit")
    if "*" not in raw:
        return sims.c.msisdn == sim_number(raw)
    if raw.startswith(COUNTRY_CODE) and len(raw) >= 12:
        raw = raw[len(COUNTRY_CODE) :]
    return sims.c.msisdn.like(raw.replace("*", "_"))


class DeviceMessagingService:
    def __init__(
        self,
        db: Database,
        messaging: MessagingService,
        *,
        carrier: str = "safaricom",
        validity: timedelta = timedelta(hours=72),
        queue_limit: int = 60,
    ) -> None:
        self.db = db
        self.messaging = messaging
        self.carrier = carrier
        self.validity = validity
        self.queue_limit = queue_limit

    # sending -----------------------------------------------------------------

    async def send(
        self,
        account_id: int,
        *,
        msisdn: str | None = None,
        iccid: str | None = None,
        text: str = "",
        binary: bytes | None = None,
        origin: str | None = None,
        client_ref: str | None = None,
        source: str,
    ) -> DeviceMessage:
        """An MT message to the account's SIM named by number or ICCID, from its short code.

        ``origin`` is used only where the SIM's type lets the sender choose it, and
        ignored elsewhere, as the M2M API specifies; binary content where the type
        takes it, else InvalidRequest. An M2M ``client_ref`` (its sms_uid) is
        unique per account.
        """
        m2m_ref = client_ref if source == M2M else None
        sim, short_code, ref_used = await self.db.read(
            lambda conn: _target(conn, account_id, msisdn, iccid, m2m_ref)
        )
        kind = sim_type(sim.sim_type)
        if not kind.sms:
            raise Conflict(f"SIMs of type {kind.name} do not take SMS")
        state = SimState(sim.status)
        if state is not SimState.ACTIVE:
            raise Conflict(f"SMS can only be delivered to active SIMs; this one is {state.label}")
        if binary is not None and not kind.binary_sms:
            raise InvalidRequest(f"SIMs of type {kind.name} do not take binary SMS")
        if origin is not None and kind.custom_origin:
            if not _ORIGIN.fullmatch(origin):
                raise InvalidRequest("origin must be a number of 3 to 15 digits")
        else:
            origin = None
        if ref_used:  # a clear reason; the partial unique index makes it race-free
            raise Conflict(f"a message with the reference {client_ref!r} was already sent")
        view = await self.messaging.send(
            account_id,
            SendRequest(
                to=international(sim.msisdn),
                text=text,
                binary=binary,
                sender=short_code,
                origin=origin,
                client_ref=client_ref,
                source=source,
                device=Device(sim.id, self.carrier, self.queue_limit),
                validity=self.validity,
            ),
        )
        return DeviceMessage(
            id=view.id,
            direction=view.direction,
            source=view.source,
            sender=view.sender,
            sim_msisdn=view.recipient,
            iccid=sim.iccid,
            body=view.body,
            encoding=view.encoding,
            status=view.status,
            status_at=view.status_at,
            status_detail=view.status_detail,
            created_at=view.created_at,
            carrier_message_id=None,  # just accepted: no carrier has it yet
            client_ref=view.client_ref,
            vpn_group=sim.vpn_group,
        )

    # reading -----------------------------------------------------------------

    async def get(self, account_id: int, message_id: int) -> DeviceMessage:
        query = _select().where(messages.c.id == message_id, messages.c.account_id == account_id)
        row = await self.db.read(lambda conn: conn.execute(query).one_or_none())
        if row is None:
            raise NotFound(f"no message {message_id} in this account")
        return _view(row)

    async def page(
        self,
        account_id: int,
        *,
        page_no: int = 1,
        page_size: int = 10,
        sim: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: Collection[MessageStatus] | None = None,
    ) -> DevicePage:
        """The account's device messages the portal has not hidden, newest first.

        ``sim`` narrows them to SIMs whose number matches (see ``_sim_pattern``);
        ``since``/``until`` to those created in that span, both included.
        """
        if not 1 <= page_no <= MAX_PAGE_NO:
            raise InvalidRequest(f"pageNo must be between 1 and {MAX_PAGE_NO}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
        if since is not None and until is not None and since > until:
            raise InvalidRequest("startDate is after endDate")
        conditions: list[ColumnElement[bool]] = [
            messages.c.account_id == account_id,
            messages.c.sim_id.is_not(None),
            messages.c.portal_hidden_at.is_(None),
        ]
        if sim is not None:
            matching = select(sims.c.id).where(sims.c.account_id == account_id, _sim_pattern(sim))
            conditions.append(messages.c.sim_id.in_(matching.scalar_subquery()))
        if since is not None:
            conditions.append(messages.c.created_at >= since)
        if until is not None:
            conditions.append(messages.c.created_at <= until)
        if statuses is not None:
            conditions.append(messages.c.status.in_([s.value for s in statuses]))
        where = and_(*conditions)

        def count_and_read_page(conn: Connection) -> DevicePage:
            total = conn.execute(
                select(func.count()).select_from(messages).where(where)
            ).scalar_one()
            rows = conn.execute(
                _select()
                .where(where)
                .order_by(messages.c.id.desc())
                .limit(page_size)
                .offset((page_no - 1) * page_size)
            ).all()
            return DevicePage([_view(r) for r in rows], int(total))

        return await self.db.read(count_and_read_page)

    async def latest_sent(self, account_id: int, iccid: str, count: int) -> list[DeviceMessage]:
        """The ``count`` latest messages sent to the SIM, newest first (hidden ones too)."""
        number = _iccid(iccid)

        def read_latest_of_sim(conn: Connection) -> list[DeviceMessage]:
            sim_id = conn.execute(
                select(sims.c.id).where(sims.c.account_id == account_id, sims.c.iccid == number)
            ).scalar_one_or_none()
            if sim_id is None:
                raise UnknownSim(f"no SIM with ICCID {number} in this account")
            rows = conn.execute(
                _select()
                .where(messages.c.sim_id == sim_id, messages.c.direction == "mt")
                .order_by(messages.c.id.desc())
                .limit(count)
            ).all()
            return [_view(r) for r in rows]

        return await self.db.read(read_latest_of_sim)

    # hiding ------------------------------------------------------------------

    async def hide_thread(self, account_id: int, msisdn: str) -> int:
        """Hide every message to and from the SIM from the portal; how many were hidden."""
        number = sim_number(msisdn)

        def hide_messages_of_sim(conn: Connection) -> int:
            sim_id = conn.execute(
                select(sims.c.id).where(sims.c.account_id == account_id, sims.c.msisdn == number)
            ).scalar_one_or_none()
            if sim_id is None:
                raise UnknownSim(f"no SIM {number} in this account")
            return int(
                conn.execute(
                    update(messages)
                    .where(
                        messages.c.sim_id == sim_id,
                        messages.c.account_id == account_id,
                        messages.c.portal_hidden_at.is_(None),
                    )
                    .values(portal_hidden_at=utcnow())
                ).rowcount
            )

        return await self.db.write(hide_messages_of_sim)

    async def hide(self, account_id: int, message_id: int) -> None:
        """Hide one device message from the portal; NotFound if it is not one it shows."""
        statement = (
            update(messages)
            .where(
                messages.c.id == message_id,
                messages.c.account_id == account_id,
                messages.c.sim_id.is_not(None),
                messages.c.portal_hidden_at.is_(None),
            )
            .values(portal_hidden_at=utcnow())
        )
        if await self.db.write(lambda conn: conn.execute(statement).rowcount) == 0:
            raise NotFound(f"no message {message_id} in this account")


def _iccid(value: str) -> str:
    try:
        return sim_identifiers.iccid(value)
    except InvalidIdentifier as exc:
        raise InvalidRequest(str(exc)) from exc


def _target(
    conn: Connection,
    account_id: int,
    msisdn: str | None,
    iccid: str | None,
    m2m_ref: str | None,
) -> tuple[Any, str, bool]:
    """The account's SIM by number or ICCID, the short code its messages come from,
    and whether the M2M reference (if any) was used already."""
    if (msisdn is None) == (iccid is None):
        raise InvalidRequest("name the SIM by its msisdn or by its iccid")
    condition = (
        sims.c.msisdn == sim_number(msisdn)
        if msisdn is not None
        else sims.c.iccid == _iccid(iccid or "")
    )
    sim = conn.execute(
        select(
            sims.c.id,
            sims.c.iccid,
            sims.c.msisdn,
            sims.c.status,
            sims.c.sim_type,
            accounts.c.vpn_group,
        )
        .join(accounts, accounts.c.id == sims.c.account_id)
        .where(sims.c.account_id == account_id, condition)
    ).one_or_none()
    if sim is None:
        raise UnknownSim(f"no SIM {msisdn or iccid} in this account")
    short_code = conn.execute(
        select(func.min(account_numbers.c.number)).where(
            account_numbers.c.account_id == account_id, account_numbers.c.kind == "short_code"
        )
    ).scalar_one()
    if short_code is None:
        raise Conflict("this account has no short code to send device messages from")
    used = m2m_ref is not None and (
        conn.execute(
            select(messages.c.id)
            .where(
                messages.c.account_id == account_id,
                text(f"source = '{M2M}'"),  # literal, so the partial unique index serves it
                messages.c.client_ref == m2m_ref,
            )
            .limit(1)
        ).first()
        is not None
    )
    return sim, str(short_code), used
