"""Sender IDs: registrations per carrier, applications with KYC, the team default,
and the one rule every face sends by.

A *registration* is a name (or short code) approved for an account on one
carrier, with a campaign type; the same name may be registered on several
carriers. ``ANY_CARRIER`` ('*') registrations hold on every carrier: senders
from before registrations, and what the operator grants directly.

``SenderBook.resolve`` is the rule: the sender a message leaves with is the
name asked for (or a registration's UUID, or the team default) *approved on
the recipient's carrier*. A Safaricom-only name sent to an Airtel number is
refused with ``SenderNotOnCarrier``, whichever face took the message (REST
400, SMPP ESME_RINVSRCADR, Kimisms "The recipient's network must match the
Sender ID's provider"). Messaging loads a book in the transaction that stores
the messages, so an approval or a default changed a moment ago counts at once.

An *application* moves PENDING -> PROVIDER -> APPROVED | REJECTED
(``core.sender_names``), each move recorded with who and when; approving it
makes the registration in the same transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from jumbe.core import sender_names
from jumbe.core.sender_names import ANY_CARRIER, ReviewState
from jumbe.services.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    SenderNotOnCarrier,
    ServiceError,
    UnknownSender,
)
from jumbe.services.kyc_documents import DOCUMENT_KINDS, KycDocuments, StoredDocument
from jumbe.services.mail import MailService
from jumbe.services.numbering import NumberingService
from jumbe.services.roles import require
from jumbe.services.staff import StaffCaller
from jumbe.services.tokens import Caller
from jumbe.store.database import Database
from jumbe.store.schema import (
    accounts,
    sender_application_events,
    sender_applications,
    sender_documents,
    sender_ids,
    users,
)

APPROVED = "approved"
MAX_PAGE_SIZE = 100


# resolving ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Held:
    id: int
    uuid: str
    name: str
    carrier: str
    status: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """The sender a message leaves with: its name, and the registration that allows it
    (whose float pays for the message when it has one)."""

    name: str
    registration_id: int


@dataclass(slots=True)
class SenderBook:
    """The registrations and default sender of some accounts, as one transaction saw them."""

    held: dict[int, list[_Held]] = field(default_factory=dict)
    defaults: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, account_ids: Iterable[int]) -> SenderBook:
        wanted = sorted(set(account_ids))
        held: dict[int, list[_Held]] = defaultdict(list)
        rows = conn.execute(
            select(
                sender_ids.c.account_id,
                sender_ids.c.id,
                sender_ids.c.uuid,
                sender_ids.c.name,
                sender_ids.c.carrier,
                sender_ids.c.status,
            ).where(sender_ids.c.account_id.in_(wanted))
        )
        for r in rows:
            held[r.account_id].append(_Held(r.id, r.uuid, r.name, r.carrier, r.status))
        defaults = conn.execute(
            select(accounts.c.id, accounts.c.default_sender).where(
                accounts.c.id.in_(wanted), accounts.c.default_sender.is_not(None)
            )
        )
        return cls(dict(held), {r.id: r.default_sender for r in defaults})

    def resolve(self, account_id: int, wanted: str | None, carrier: str) -> str | ServiceError:
        """The sender name to send with to a recipient on ``carrier``, or why there is none."""
        found = self.registration(account_id, wanted, carrier)
        return found if isinstance(found, ServiceError) else found.name

    def registration(
        self, account_id: int, wanted: str | None, carrier: str
    ) -> Resolved | ServiceError:
        """The registration a message to a recipient on ``carrier`` leaves by, or why there is
        none: the one on that carrier itself before one for every carrier ('*').

        ``wanted``: a name, a registration's UUID (it stands for its name), or
        nothing for the team default. Returned rather than raised: one refused
        message must not sink the others of its batch.
        """
        held = self.held.get(account_id, ())
        if not wanted:
            default = self.defaults.get(account_id)
            if default is None:
                return UnknownSender("this account has no default sender ID; pass sender_id")
            name = default
        else:
            name = next((h.name for h in held if h.uuid == wanted), wanted)
        named = [h for h in held if h.name == name]
        if not named:
            return UnknownSender(
                f"sender ID {name!r} is not registered for this account"
                f" (no approved Sender ID found matching {name!r})"
            )
        approved = [h for h in named if h.status == APPROVED]
        if not approved:
            return UnknownSender(f"sender ID {name!r} is not approved (it is {named[0].status})")
        for allowing in (carrier, ANY_CARRIER):
            for h in approved:
                if h.carrier == allowing:
                    return Resolved(name, h.id)
        return SenderNotOnCarrier(name, carrier, tuple(sorted(h.carrier for h in approved)))


# views -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    uuid: str
    account_id: int
    name: str
    kind: str
    carrier: str
    campaign_type: str
    status: str
    is_default: bool
    created_at: datetime
    application_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    from_status: str | None
    to_status: str
    reason: str | None
    actor_kind: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Document(StoredDocument):
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Application:
    uuid: str
    account_id: int
    account_name: str
    name: str
    kind: str
    carrier: str
    campaign_type: str
    organisation: str
    purpose: str
    status: str
    reason: str | None
    created_at: datetime
    status_at: datetime
    history: tuple[Change, ...] = ()
    documents: tuple[Document, ...] = ()
    registration_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    """What a customer fills in; checked by ``SenderService.apply``."""

    name: str
    carrier: str
    campaign_type: str
    organisation: str
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class Upload:
    """One KYC document as it arrived: its kind, its bytes (a file), the client's name."""

    kind: str
    content: BinaryIO
    filename: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who moved an application: a member, staff, or the operator at the command line."""

    kind: str  # member, staff, operator
    name: str

    @classmethod
    def of_staff(cls, staff: StaffCaller) -> Actor:
        return cls("staff", staff.email)


OPERATOR = Actor("operator", "jumbe senders (CLI)")


# the service -------------------------------------------------------------------


class SenderService:
    def __init__(
        self,
        db: Database,
        numbering: NumberingService,
        documents: KycDocuments,
        mail: MailService,
    ) -> None:
        self.db = db
        self.numbering = numbering
        self.documents = documents
        self.mail = mail

    # registrations ------------------------------------------------------------

    async def registrations(self, account_id: int | None = None) -> list[Registration]:
        """An account's registrations (every account's with None: the operator's CLI)."""
        condition = sender_ids.c.account_id == account_id if account_id is not None else None

        def read(conn: Connection) -> list[Registration]:
            return _registrations(conn, condition)

        return await self.db.read(read)

    async def create(
        self, account_id: int, name: str, carrier: str, campaign_type: str = "TRANSACTIONAL"
    ) -> Registration:
        """An approved registration straight away: the operator's way (``jumbe senders create``)."""
        kind = _kind(name)
        slug = self._carrier(carrier, any_allowed=True)
        ctype = _campaign_type(campaign_type)

        def create(conn: Connection) -> Registration:
            return _register(conn, account_id, name, kind, slug, ctype, None, datetime.now(UTC))

        try:
            return await self.db.write(create)
        except IntegrityError:  # the same registration made at the same moment
            raise Conflict(f"sender ID {name!r} is already registered on {slug}") from None

    async def set_default(self, caller: Caller, sender: str) -> Registration:
        """Make a name (or a registration's UUID) the team default; it must be approved."""
        require(_role(caller), "manage_senders")
        return await self.db.write(lambda conn: _set_default(conn, caller.account_id, sender))

    async def set_default_for_operator(self, account_id: int, sender: str) -> Registration:
        return await self.db.write(lambda conn: _set_default(conn, account_id, sender))

    # applications ---------------------------------------------------------------

    async def apply(
        self, caller: Caller, form: ApplicationForm, uploads: Sequence[Upload]
    ) -> Application:
        """A new application (PENDING) with its KYC documents, or nothing at all."""
        require(_role(caller), "manage_senders")
        name = form.name
        kind = _kind(name)
        slug = self._carrier(form.carrier, any_allowed=False)
        ctype = _campaign_type(form.campaign_type)
        organisation = _text("organisation", " ".join(form.organisation.split()), 120)
        if not organisation:
            raise InvalidRequest("organisation is required")
        purpose = _text("purpose", form.purpose.strip(), 500)
        kinds = [u.kind for u in uploads]
        for unknown in set(kinds) - set(DOCUMENT_KINDS):
            raise InvalidRequest(f"unknown document {unknown!r}")
        missing = [DOCUMENT_KINDS[k] for k in DOCUMENT_KINDS if k not in kinds]
        if missing or len(kinds) != len(set(kinds)):
            raise InvalidRequest(
                "send one of each KYC document: business_registration (the business"
                " registration certificate) and authorisation_letter (the letter of"
                " authorisation), as PDF, PNG or JPEG files"
            )
        stored: list[StoredDocument] = []
        try:
            for upload in uploads:
                stored.append(
                    await asyncio.to_thread(
                        self.documents.store,
                        caller.account_id,
                        upload.kind,
                        upload.content,
                        upload.filename,
                    )
                )
            now = datetime.now(UTC)

            def write(conn: Connection) -> str:
                _check_free(conn, caller.account_id, name, slug)
                _no_open_application(conn, caller.account_id, name, slug)
                applicant = _member_email(conn, caller)
                application_id, application_uuid = conn.execute(
                    insert(sender_applications)
                    .values(
                        uuid=str(uuid.uuid4()),
                        account_id=caller.account_id,
                        name=name,
                        kind=kind,
                        carrier=slug,
                        campaign_type=ctype,
                        organisation=organisation,
                        purpose=purpose,
                        status=ReviewState.PENDING.value,
                        applied_by=caller.user_id,
                        created_at=now,
                        status_at=now,
                    )
                    .returning(sender_applications.c.id, sender_applications.c.uuid)
                ).one()
                _record(conn, application_id, None, ReviewState.PENDING, None, applicant, now)
                conn.execute(
                    insert(sender_documents),
                    [
                        {
                            "uuid": d.uuid,
                            "application_id": application_id,
                            "account_id": caller.account_id,
                            "kind": d.kind,
                            "content_type": d.content_type,
                            "size": d.size,
                            "sha256": d.sha256,
                            "filename": d.filename,
                            "path": d.path,
                            "created_at": now,
                        }
                        for d in stored
                    ],
                )
                return str(application_uuid)

            application_uuid = await self.db.write(write)
        except BaseException:
            for d in stored:
                await asyncio.to_thread(self.documents.remove, d.path)
            raise
        return await self.application(caller.account_id, application_uuid)

    async def applications(
        self,
        account_id: int | None,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[Application], int]:
        """Applications newest first, and how many match; every account's with None (staff)."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page must be 1 or more, page_size 1 to {MAX_PAGE_SIZE}")
        conditions: list[ColumnElement[bool]] = []
        if account_id is not None:
            conditions.append(sender_applications.c.account_id == account_id)
        if status:
            conditions.append(sender_applications.c.status == _state(status).value)

        def read(conn: Connection) -> tuple[list[Application], int]:
            total = conn.execute(
                select(func.count()).select_from(sender_applications).where(*conditions)
            ).scalar_one()
            rows = conn.execute(
                _application_query()
                .where(*conditions)
                .order_by(sender_applications.c.id.desc())
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).all()
            return [_application(r) for r in rows], int(total)

        return await self.db.read(read)

    async def application(self, account_id: int | None, application_uuid: str) -> Application:
        """One application with its history and documents; another account's is not found."""
        return await self.db.read(lambda conn: _full(conn, account_id, application_uuid))

    async def document(
        self, account_id: int | None, application_uuid: str, document_uuid: str
    ) -> tuple[Document, Path]:
        """A KYC document and where its file is; only its account's (or, with None, staff)."""
        application = await self.application(account_id, application_uuid)
        for d in application.documents:
            if d.uuid == document_uuid:
                path = self.documents.path_of(d.path)
                if not path.is_file():
                    raise NotFound("the document's file is missing from the data dir")
                return d, path
        raise NotFound("Document not found")

    async def review(
        self, actor: Actor, application_uuid: str, to: str, reason: str | None = None
    ) -> Application:
        """Move an application (staff or the operator): PROVIDER, APPROVED, REJECTED.

        Approving makes the registration in the same transaction; a name another
        account holds on that carrier cannot be approved (409).
        """
        target = _state(to)
        reason = _text("reason", reason.strip(), 500) if reason and reason.strip() else None
        if reason is None and sender_names.needs_reason(target):
            raise InvalidRequest("a rejection needs a reason")
        now = datetime.now(UTC)

        def move(conn: Connection) -> None:
            row = conn.execute(
                select(sender_applications)
                .where(sender_applications.c.uuid == application_uuid)
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFound("Application not found")
            current = ReviewState(row.status)
            try:
                sender_names.check_move(current, target)
            except ValueError as exc:
                raise Conflict(str(exc)) from None
            moved = conn.execute(
                update(sender_applications)
                .where(
                    sender_applications.c.id == row.id,
                    sender_applications.c.status == current.value,
                )
                .values(status=target.value, reason=reason, status_at=now)
            ).rowcount
            if moved != 1:
                raise Conflict("the application changed meanwhile; read it again")
            if target is ReviewState.APPROVED:
                _register(
                    conn,
                    row.account_id,
                    row.name,
                    row.kind,
                    row.carrier,
                    row.campaign_type,
                    row.id,
                    now,
                )
            _record(conn, row.id, current, target, reason, actor, now)
            self._tell_applicant(conn, row, target, reason)

        try:
            await self.db.write(move)
        except IntegrityError:  # its registration made at the same moment by another way
            raise Conflict("the sender ID was registered meanwhile; read it again") from None
        return await self.application(None, application_uuid)

    def _tell_applicant(
        self, conn: Connection, row: Row[Any], to: ReviewState, reason: str | None
    ) -> None:
        """Mail the member who applied (if they are still on the team) about the move."""
        email = conn.execute(
            select(users.c.email).where(
                users.c.id == row.applied_by, users.c.account_id == row.account_id
            )
        ).scalar()
        if not email:
            return
        said = {
            ReviewState.PROVIDER: "has been sent to the carrier for approval",
            ReviewState.APPROVED: "is approved: you can send with it now",
            ReviewState.REJECTED: f"was rejected: {reason}",
        }
        self.mail.queue(
            conn,
            email,
            f"Sender ID {row.name} on {row.carrier}: {to.value}",
            f"Hello,\n\nYour application for the sender ID {row.name!r} on {row.carrier}"
            f" ({row.campaign_type}) {said.get(to, to.value)}.\n\nApplication: {row.uuid}\n",
        )

    def _carrier(self, raw: str, *, any_allowed: bool) -> str:
        if any_allowed and raw.strip() == ANY_CARRIER:
            return ANY_CARRIER
        return self.numbering.known_carrier(raw)


# helpers -------------------------------------------------------------------------


def _role(caller: Caller) -> str:
    if caller.role is None:
        raise Forbidden("Forbidden: sender IDs are managed by members signed in, not API tokens")
    return caller.role


def _text(field: str, value: str, limit: int) -> str:
    """Free text as it can be stored (PostgreSQL refuses NUL; UTF-8 lone surrogates)."""
    if len(value) > limit:
        raise InvalidRequest(f"{field} must be at most {limit} characters")
    if any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value):
        raise InvalidRequest(f"{field} must not contain NUL characters or unpaired surrogates")
    return value


def _kind(name: str) -> str:
    try:
        return sender_names.kind_of(name)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def _campaign_type(raw: str) -> str:
    try:
        return sender_names.campaign_type(raw)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def _state(raw: str) -> ReviewState:
    try:
        return sender_names.review_state(raw)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def _check_free(conn: Connection, account_id: int, name: str, carrier: str) -> None:
    """Conflict if the account holds the name on the carrier already, or another account
    does (a name is one organisation's on a carrier; compared without case)."""
    carriers = [carrier] if carrier == ANY_CARRIER else [carrier, ANY_CARRIER]
    found = conn.execute(
        select(sender_ids.c.account_id, sender_ids.c.carrier).where(
            func.lower(sender_ids.c.name) == name.lower(), sender_ids.c.carrier.in_(carriers)
        )
    ).all()
    where = "every carrier" if carrier == ANY_CARRIER else carrier
    if any(r.account_id != account_id for r in found):
        raise Conflict(f"sender ID {name!r} is registered to another account on {where}")
    if any(r.carrier == carrier for r in found):
        raise Conflict(f"sender ID {name!r} is already registered on {where}")


def _no_open_application(conn: Connection, account_id: int, name: str, carrier: str) -> None:
    open_one = conn.execute(
        select(sender_applications.c.uuid, sender_applications.c.status).where(
            sender_applications.c.account_id == account_id,
            sender_applications.c.name == name,
            sender_applications.c.carrier == carrier,
            sender_applications.c.status.in_(
                [ReviewState.PENDING.value, ReviewState.PROVIDER.value]
            ),
        )
    ).first()
    if open_one is not None:
        raise Conflict(
            f"an application for {name!r} on {carrier} is already {open_one.status}"
            f" ({open_one.uuid})"
        )


def _register(
    conn: Connection,
    account_id: int,
    name: str,
    kind: str,
    carrier: str,
    campaign_type: str,
    application_id: int | None,
    now: datetime,
) -> Registration:
    """Insert an approved registration; the account's first name becomes its default."""
    _check_free(conn, account_id, name, carrier)
    conn.execute(
        insert(sender_ids).values(
            uuid=str(uuid.uuid4()),
            account_id=account_id,
            name=name,
            kind=kind,
            carrier=carrier,
            campaign_type=campaign_type,
            status=APPROVED,
            application_id=application_id,
            created_at=now,
        )
    )
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.default_sender.is_(None))
        .values(default_sender=name)
    )
    found = _registrations(
        conn,
        (sender_ids.c.account_id == account_id)
        & (sender_ids.c.name == name)
        & (sender_ids.c.carrier == carrier),
    )
    return found[0]


def _set_default(conn: Connection, account_id: int, sender: str) -> Registration:
    held = _registrations(conn, sender_ids.c.account_id == account_id)
    chosen = next((r for r in held if r.uuid == sender), None) or next(
        (r for r in held if r.name == sender and r.status == APPROVED), None
    )
    if chosen is None or chosen.status != APPROVED:
        raise NotFound(f"no approved sender ID {sender!r} in this account")
    conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(default_sender=chosen.name)
    )
    return _registrations(conn, sender_ids.c.uuid == chosen.uuid)[0]


def _registrations(conn: Connection, condition: ColumnElement[bool] | None) -> list[Registration]:
    query = (
        select(
            sender_ids,
            accounts.c.default_sender,
            sender_applications.c.uuid.label("application_uuid"),
        )
        .join(accounts, accounts.c.id == sender_ids.c.account_id)
        .outerjoin(sender_applications, sender_applications.c.id == sender_ids.c.application_id)
        .order_by(sender_ids.c.account_id, sender_ids.c.name, sender_ids.c.carrier)
    )
    if condition is not None:
        query = query.where(condition)
    return [
        Registration(
            uuid=r.uuid,
            account_id=r.account_id,
            name=r.name,
            kind=r.kind,
            carrier=r.carrier,
            campaign_type=r.campaign_type,
            status=r.status,
            is_default=r.name == r.default_sender,
            created_at=r.created_at,
            application_uuid=r.application_uuid,
        )
        for r in conn.execute(query)
    ]


def _member_email(conn: Connection, caller: Caller) -> Actor:
    email = conn.execute(select(users.c.email).where(users.c.id == caller.user_id)).scalar()
    return Actor("member", str(email or f"user {caller.user_id}"))


def _record(
    conn: Connection,
    application_id: int,
    from_status: ReviewState | None,
    to_status: ReviewState,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    conn.execute(
        insert(sender_application_events).values(
            application_id=application_id,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            reason=reason,
            actor_kind=actor.kind,
            actor=actor.name[:254],
            created_at=now,
        )
    )


def _application_query() -> Any:
    return select(
        sender_applications,
        accounts.c.name.label("account_name"),
        sender_ids.c.uuid.label("registration_uuid"),
    ).select_from(
        sender_applications.join(
            accounts, accounts.c.id == sender_applications.c.account_id
        ).outerjoin(sender_ids, sender_ids.c.application_id == sender_applications.c.id)
    )


def _application(
    r: Row[Any], history: tuple[Change, ...] = (), documents: tuple[Document, ...] = ()
) -> Application:
    return Application(
        uuid=r.uuid,
        account_id=r.account_id,
        account_name=r.account_name,
        name=r.name,
        kind=r.kind,
        carrier=r.carrier,
        campaign_type=r.campaign_type,
        organisation=r.organisation,
        purpose=r.purpose,
        status=r.status,
        reason=r.reason,
        created_at=r.created_at,
        status_at=r.status_at,
        history=history,
        documents=documents,
        registration_uuid=r.registration_uuid,
    )


def _full(conn: Connection, account_id: int | None, application_uuid: str) -> Application:
    query = _application_query().where(sender_applications.c.uuid == application_uuid)
    if account_id is not None:
        query = query.where(sender_applications.c.account_id == account_id)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise NotFound("Application not found")
    history = tuple(
        Change(e.from_status, e.to_status, e.reason, e.actor_kind, e.actor, e.created_at)
        for e in conn.execute(
            select(sender_application_events)
            .where(sender_application_events.c.application_id == row.id)
            .order_by(sender_application_events.c.id)
        )
    )
    documents = tuple(
        Document(d.uuid, d.kind, d.content_type, d.size, d.sha256, d.filename, d.path, d.created_at)
        for d in conn.execute(
            select(sender_documents)
            .where(sender_documents.c.application_id == row.id)
            .order_by(sender_documents.c.id)
        )
    )
    return _application(row, history, documents)
