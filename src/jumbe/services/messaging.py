"""Sending messages: validate, price, and store them durably with their debit.

Every face sends through ``MessagingService.send`` (or ``send_many`` for bulk).
Checks that need no database (number, text, limits) run in the caller's task;
checks that do (sender ID, balance) run inside the group-commit batch, in the
one transaction that writes the messages and their ledger debit. A face may
answer "accepted" only once ``send`` has returned: by then it is committed.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jumbe import metrics
from jumbe.core.clock import utcnow
from jumbe.core.segments import Encoding, segment
from jumbe.core.status import MessageStatus
from jumbe.core.user_data import BINARY, binary_parts, capacity
from jumbe.services.billing import UNITS, post_entry
from jumbe.services.callback_urls import CallbackUrls
from jumbe.services.errors import (
    Conflict,
    InsufficientBalance,
    InvalidRequest,
    MessageTooLong,
    NotFound,
    QueueFull,
    ServiceError,
)
from jumbe.services.events import Events, Raised
from jumbe.services.idempotency import DuplicateKey, IdempotencyKey, claim
from jumbe.services.numbering import NumberingService
from jumbe.services.pricing import Pricing, account_pricing, max_characters, units_for
from jumbe.services.senders import SenderBook
from jumbe.services.transitions import refund_unsent, transition
from jumbe.services.views import STATUSES_FOR_API, MessageView, Page, history_of
from jumbe.store.database import Database
from jumbe.store.group_commit import GroupCommit
from jumbe.store.schema import messages, wallets

MAX_TEXT_CHARS = 10_000
UNFINISHED = (MessageStatus.ACCEPTED, MessageStatus.SENT)
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Device:
    """An IoT SIM as the recipient.

    Its number lies outside the mobile ranges numbering knows, so the caller
    names the carrier; and the operator queues only so many unfinished
    messages per SIM, checked in the transaction that stores a new one.
    """

    sim_id: int
    carrier: str
    queue_limit: int


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message as a face received it, before any validation."""

    to: str
    text: str = ""
    sender: str | None = None
    callback_url: str | None = None
    client_ref: str | None = None
    source: str = "rest"
    registered_delivery: int = 0  # SMPP receipts to the sender: 0 none, 1 all, 2 failures
    valid_until: datetime | None = None  # capped at the platform's maximum validity
    deliver_at: datetime | None = None
    encoding: Encoding | None = None  # force GSM7 or UCS2 (default: the smallest that fits)
    binary: bytes | None = None  # 8-bit data to send instead of text
    udh: bytes | None = None  # one segment the sender cut and headed itself
    resent_from: int | None = None
    device: Device | None = None  # to an IoT SIM; ``to`` is then its international number
    validity: timedelta | None = None  # the longest validity, instead of the platform's
    origin: str | None = None  # a source number the SIM type lets the sender choose
    idempotency: IdempotencyKey | None = None  # claimed in the message's own transaction


@dataclass(slots=True)
class _Pending:
    """A request that passed every check not needing the database: the message as it will
    be stored (its ``id`` and ``sender`` are set in the transaction that stores it)."""

    account_id: int
    request: SendRequest
    message: MessageView
    concat_ref: int
    deliver_at: datetime

    def insert_values(self, ledger_entry_id: int) -> dict[str, Any]:
        values = self.message.insert_values()
        values["concat_ref"] = self.concat_ref
        values["next_attempt_at"] = self.deliver_at
        values["ledger_entry_id"] = ledger_entry_id
        return values


class MessagingService:
    def __init__(
        self,
        db: Database,
        numbering: NumberingService,
        events: Events,
        callback_urls: CallbackUrls,
        *,
        validity: timedelta = timedelta(hours=24),
        max_parts: int = 10,
        on_accepted: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.numbering = numbering
        self.events = events
        self.callback_urls = callback_urls
        self.validity = validity
        self.max_parts = max_parts
        self.on_accepted = on_accepted
        self._accepts: GroupCommit[_Pending, MessageView] = GroupCommit(
            self._accept_batch, max_batch=2000, name="accept"
        )

    def start(self) -> None:
        self._accepts.start()

    async def stop(self) -> None:
        await self._accepts.stop()

    # sending -----------------------------------------------------------------

    async def send(self, account_id: int, request: SendRequest) -> MessageView:
        prepared = self._prepare(account_id, request, utcnow())
        if request.callback_url is not None:
            await self.callback_urls.check(request.callback_url)
        return await self._accepts.submit(prepared)

    async def send_many(
        self, account_id: int, requests: Sequence[SendRequest]
    ) -> list[MessageView | ServiceError]:
        """The bulk entry point: per-message results, invalid ones as errors, never half-written.

        Each message is accepted or rejected on its own (a bad number does not sink
        the batch); accepted ones are committed in as few transactions as the
        group commit makes.
        """
        now = utcnow()
        refused: dict[str, ServiceError] = {}
        for url in {r.callback_url for r in requests if r.callback_url is not None}:
            try:
                await self.callback_urls.check(url)
            except ServiceError as exc:
                refused[url] = exc
        results: list[MessageView | ServiceError | None] = []
        pending: list[_Pending] = []
        slots: list[int] = []
        for req in requests:
            try:
                if req.callback_url in refused:
                    raise refused[req.callback_url]
                prepared = self._prepare(account_id, req, now)
            except ServiceError as exc:
                results.append(exc)
                continue
            slots.append(len(results))
            results.append(None)
            pending.append(prepared)
        stored = await self._accepts.submit_many(pending)
        for slot, outcome in zip(slots, stored, strict=True):
            if isinstance(outcome, ServiceError | MessageView):
                results[slot] = outcome
            else:
                raise outcome
        return [r for r in results if r is not None]

    def _prepare(self, account_id: int, req: SendRequest, now: datetime) -> _Pending:
        for name, value in (
            ("message", req.text),
            ("sender_id", req.sender),
            ("callback_url", req.callback_url),
            ("reference", req.client_ref),
        ):
            _check_unicode(name, value)
        if req.device is not None:
            msisdn, carrier = req.to, req.device.carrier
        else:
            msisdn, carrier = self.numbering.recipient(req.to)
        body, encoding, parts = self._content(req)
        if parts > self.max_parts:
            raise MessageTooLong(
                f"message needs {parts} parts; the limit is {self.max_parts} ({encoding})"
            )
        deliver_at = max(req.deliver_at or now, now)
        longest = deliver_at + (req.validity or self.validity)
        valid_until = min(req.valid_until, longest) if req.valid_until else longest
        if valid_until <= now:
            raise InvalidRequest("validity period has already ended")
        if deliver_at >= valid_until:
            raise InvalidRequest("scheduled delivery time is after the end of the validity period")
        if req.client_ref is not None and len(req.client_ref) > 64:
            raise InvalidRequest("client reference must be at most 64 characters")
        message = MessageView(
            id=0,
            uuid=str(uuid.uuid4()),
            account_id=account_id,
            direction="mt",
            source=req.source,
            sender="",
            recipient=msisdn,
            carrier=carrier,
            body=body,
            encoding=encoding,
            parts=parts,
            units=parts,
            status=MessageStatus.ACCEPTED,
            status_at=now,
            status_detail=f"accepted via {req.source}",
            error_code=None,
            created_at=now,
            valid_until=valid_until,
            callback_url=req.callback_url,
            client_ref=req.client_ref,
            attempts=0,
            resent_from=req.resent_from,
            registered_delivery=req.registered_delivery,
            udh=req.udh.hex() if req.udh is not None else None,
            sim_id=req.device.sim_id if req.device is not None else None,
        )
        concat_ref = secrets.randbelow(255) + 1 if parts > 1 else 0
        return _Pending(account_id, req, message, concat_ref, deliver_at)

    @staticmethod
    def _content(req: SendRequest) -> tuple[str, str, int]:
        """(body as stored, encoding, parts): text, or binary data as hex."""
        if req.binary is not None:
            if req.text:
                raise InvalidRequest("send either text or binary data, not both")
            if not req.binary:
                raise InvalidRequest("binary data must not be empty")
            body, encoding = req.binary.hex(), BINARY
            length = len(req.binary)
            parts = len(binary_parts(req.binary))
        else:
            if not req.text:
                raise InvalidRequest("message must not be empty")
            if req.text.isspace() and req.udh is None:  # a segment cut by its sender may be
                raise InvalidRequest("message must not be only spaces and line breaks")
            longest = max_characters(req.source)
            if len(req.text) > longest:
                raise MessageTooLong(f"message is longer than {longest} characters")
            try:
                layout = segment(req.text, req.encoding)
            except ValueError as exc:
                raise InvalidRequest(f"message cannot be encoded as {req.encoding}: {exc}") from exc
            body, encoding, length = req.text, layout.encoding.value, layout.length
            parts = layout.count
        if req.udh is None:
            return body, encoding, parts
        room = capacity(encoding, len(req.udh))
        if length > room:
            raise MessageTooLong(
                f"a segment with a {len(req.udh)}-octet header holds at most {room}"
                f" {'octets' if encoding == BINARY else 'characters'}; this one has {length}"
            )
        return body, encoding, 1

    async def _accept_batch(
        self, batch: list[_Pending]
    ) -> list[MessageView | ServiceError | Exception]:
        results: list[MessageView | ServiceError | Exception]
        try:
            results = list(await self.db.write(lambda conn: self._accept_in(conn, batch)))
        except IntegrityError as exc:
            results = [_conflict(exc)] if len(batch) == 1 else await self._accept_each(batch)
        except Exception:
            if len(batch) == 1:
                raise
            results = await self._accept_each(batch)
        stored = [r for r in results if isinstance(r, MessageView)]
        for source, count in Counter(view.source for view in stored).items():  # once committed
            metrics.messages_accepted.labels(source).inc(count)
        if stored and self.on_accepted is not None:
            self.on_accepted()
        return results

    async def _accept_each(
        self, batch: list[_Pending]
    ) -> list[MessageView | ServiceError | Exception]:
        """One bad row must not sink its neighbours: each on its own, so only the
        culprit fails (and a database that is down fails them all)."""
        results: list[MessageView | ServiceError | Exception] = []
        for one in batch:
            try:
                results.extend(await self.db.write(partial(self._accept_in, batch=[one])))
            except IntegrityError as exc:
                results.append(_conflict(exc))
            except Exception as exc:
                results.append(exc)
        return results

    def _accept_in(
        self, conn: Connection, batch: list[_Pending]
    ) -> list[MessageView | ServiceError]:
        account_ids = sorted({p.account_id for p in batch})
        senders = SenderBook.load(conn, account_ids)
        _price(batch, account_pricing(conn, account_ids))
        balances = _balances(conn, account_ids, lock=not self.db.is_sqlite)
        queued = _unfinished_per_sim(
            conn, {p.message.sim_id for p in batch if p.message.sim_id is not None}
        )
        results: list[MessageView | ServiceError | None] = [None] * len(batch)
        accepted: dict[_Wallet, list[int]] = defaultdict(list)
        for i, p in enumerate(batch):
            wallet = _Wallet(p.account_id, None)
            if p.request.origin:
                sender = p.request.origin  # a SIM type's source number: the team pays
            else:
                found = senders.registration(p.account_id, p.request.sender, p.message.carrier)
                if isinstance(found, ServiceError):
                    results[i] = found
                    continue
                sender = found.name
                if _Wallet(p.account_id, found.registration_id) in balances:
                    wallet = _Wallet(p.account_id, found.registration_id)
            device = p.request.device
            if device is not None and queued[device.sim_id] >= device.queue_limit:
                results[i] = QueueFull(
                    f"rejected by operator: the SIM already has {device.queue_limit}"
                    " messages queued"
                )
                continue
            units = p.message.units
            if balances.get(wallet, 0) < units:
                results[i] = InsufficientBalance(
                    "Insufficient SMS unit balance"
                    if wallet.sender_id is None
                    else f"Insufficient balance: not enough float on sender ID {sender!r}"
                    f" ({p.message.carrier}); top up its float"
                )
                continue
            balances[wallet] -= units
            if device is not None:
                queued[device.sim_id] += 1
            p.message.sender = sender
            accepted[wallet].append(i)
        rows: list[dict[str, Any]] = []
        for wallet, indexes in accepted.items():
            total = sum(batch[i].message.units for i in indexes)
            entry = post_entry(
                conn,
                wallet.account_id,
                -total,
                "debit",
                f"{len(indexes)} message(s)",
                message_count=len(indexes),
                now=batch[indexes[0]].message.created_at,
                sender_id=wallet.sender_id,
            )
            rows.extend(batch[i].insert_values(entry) for i in indexes)
        ids: dict[str, int] = {}
        if rows:
            inserted = conn.execute(
                insert(messages).returning(messages.c.id, messages.c.uuid), rows
            )
            ids = {r.uuid: r.id for r in inserted}
        for indexes in accepted.values():
            for i in indexes:
                message = batch[i].message
                message.id = ids[message.uuid]
                key = batch[i].request.idempotency
                if key is not None:
                    claim(conn, batch[i].account_id, key, message.id, message.created_at)
                results[i] = message
        return [r for r in results if r is not None]

    # reading -----------------------------------------------------------------

    async def get(self, account_id: int, message_uuid: str, *, history: bool = True) -> MessageView:
        def read_message(conn: Connection) -> MessageView:
            row = conn.execute(
                select(messages).where(
                    messages.c.uuid == message_uuid, messages.c.account_id == account_id
                )
            ).one_or_none()
            if row is None:
                raise NotFound("Message not found")
            return MessageView.from_row(row, history_of(row) if history else ())

        return await self.db.read(read_message)

    async def list(
        self,
        account_id: int,
        *,
        page: int = 1,
        page_size: int = 20,
        phone: str | None = None,
        status: str | None = None,
        direction: str | None = None,
    ) -> Page:
        if page < 1:
            raise InvalidRequest("page must be 1 or more")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        conditions = [messages.c.account_id == account_id]
        if phone:
            msisdn, _carrier = self.numbering.recipient(phone)
            conditions.append(messages.c.recipient == msisdn)
        if status:
            wanted = STATUSES_FOR_API.get(status)
            if wanted is None:
                raise InvalidRequest(
                    "status must be one of queued, sent, delivered, failed, received"
                )
            conditions.append(messages.c.status.in_([s.value for s in wanted]))
        if direction:
            if direction not in ("mt", "mo"):
                raise InvalidRequest("direction must be mt or mo")
            conditions.append(messages.c.direction == direction)
        where = and_(*conditions)

        def count_and_read_page(conn: Connection) -> Page:
            total = conn.execute(
                select(func.count()).select_from(messages).where(where)
            ).scalar_one()
            rows = conn.execute(
                select(messages)
                .where(where)
                .order_by(messages.c.id.desc())
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).all()
            return Page([MessageView.from_row(r) for r in rows], page, page_size, total)

        return await self.db.read(count_and_read_page)

    # changing ----------------------------------------------------------------

    async def resend(self, account_id: int, message_uuid: str) -> MessageView:
        """A new message with the same content; only for messages that failed."""
        original = await self.get(account_id, message_uuid, history=False)
        if original.direction != "mt":
            raise Conflict("only outgoing messages can be resent")
        if original.sim_id is not None:
            raise Conflict("messages to IoT SIMs are sent again through the SIM portal APIs")
        if original.api_status != "failed":
            raise Conflict(f"only failed messages can be resent; this one is {original.api_status}")
        binary = original.encoding == BINARY
        return await self.send(
            account_id,
            SendRequest(
                to=original.recipient,
                text="" if binary else original.body,
                binary=bytes.fromhex(original.body) if binary else None,
                udh=bytes.fromhex(original.udh) if original.udh else None,
                registered_delivery=original.registered_delivery,
                sender=original.sender,
                callback_url=original.callback_url,
                client_ref=original.client_ref,
                source=original.source,
                resent_from=original.id,
            ),
        )

    async def cancel(self, account_id: int, message_uuid: str) -> MessageView:
        """Cancel a message no carrier has been handed yet, and refund it."""
        now = utcnow()

        def cancel_if_unsent(conn: Connection, raised: Raised) -> None:
            row = conn.execute(
                select(messages.c.id, messages.c.status, messages.c.lease_until).where(
                    messages.c.uuid == message_uuid, messages.c.account_id == account_id
                )
            ).one_or_none()
            if row is None:
                raise NotFound("Message not found")
            if row.status != MessageStatus.ACCEPTED.value or (
                row.lease_until is not None and row.lease_until > now
            ):
                raise Conflict("message has already been handed to the carrier")
            moved = transition(
                conn,
                [row.id],
                MessageStatus.CANCELLED,
                now=now,
                detail="cancelled by the sender",
                raised=raised,
            )
            refund_unsent(conn, moved, now=now, why="cancelled")

        await self.events.write(self.db, cancel_if_unsent)
        return await self.get(account_id, message_uuid)


def _conflict(exc: IntegrityError) -> Conflict:
    """A row the schema refuses: a reference (an M2M sms_uid) or an Idempotency-Key used twice."""
    if "idempotency_keys" in str(exc.orig):
        return DuplicateKey("another request with this Idempotency-Key stored its message first")
    if "client_ref" in str(exc.orig):
        return Conflict("a message with this reference was already sent")
    return Conflict(f"message could not be stored: {exc.orig}")


def _price(batch: list[_Pending], pricing: dict[int, Pricing]) -> None:
    """Each message's units by its account's pricing rule, read in the accepting transaction
    (so a changed rule applies from the next batch on)."""
    for p in batch:
        m = p.message
        text = None if m.encoding == BINARY else m.body
        m.units = units_for(
            pricing.get(p.account_id, Pricing.SEGMENTS),
            characters=None if text is None else len(text),
            segments=m.parts,
        )


def _unfinished_per_sim(conn: Connection, sim_ids: set[int]) -> Counter[int]:
    """How many messages each SIM has that are not final yet (the operator's queue)."""
    if not sim_ids:
        return Counter()
    rows = conn.execute(
        select(messages.c.sim_id, func.count())
        .where(
            messages.c.sim_id.in_(sorted(sim_ids)),
            messages.c.status.in_([s.value for s in UNFINISHED]),
        )
        .group_by(messages.c.sim_id)
    )
    return Counter({r[0]: int(r[1]) for r in rows})


class _Wallet(NamedTuple):
    """Which wallet pays: the team's (``sender_id`` None) or a sender registration's float."""

    account_id: int
    sender_id: int | None


def _balances(conn: Connection, account_ids: list[int], *, lock: bool) -> dict[_Wallet, int]:
    """Every unit wallet of the batch's accounts, floats included, in the one read the
    batch makes of them (locked on PostgreSQL until the batch commits).

    The float rule: a message pays from its sender registration's float when that
    registration has one (it exists once topped up), and is refused when the float is
    short, never quietly charged to the team ("Each unit is deducted from your sender
    ID's float balance"); a sender without a float is paid for by the team wallet.
    """
    query = select(wallets.c.account_id, wallets.c.sender_id, wallets.c.balance).where(
        wallets.c.account_id.in_(account_ids), wallets.c.asset == UNITS
    )
    if lock:
        query = query.with_for_update()
    return {_Wallet(r.account_id, r.sender_id): int(r.balance) for r in conn.execute(query)}


def _check_unicode(field: str, value: str | None) -> None:
    """Refuse text that cannot be stored: lone UTF-16 surrogates and NUL characters."""
    if value is None:
        return
    if "\x00" in value:
        raise InvalidRequest(f"{field} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(f"{field} contains invalid characters (unpaired surrogates)") from exc
