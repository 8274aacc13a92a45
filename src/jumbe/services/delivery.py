"""What happens to a message after acceptance: carrier answers, receipts, inbound, expiry.

The engine reports facts (a carrier took part 2 under id X; a receipt said
UNDELIV; an MO arrived) and this service turns them into status changes by the
rules in ``core.status``. ``record`` takes a mixed batch and writes it in one
transaction, in the order that keeps causality: carrier acceptances before the
receipts that may refer to them, so a fast receipt never overtakes its submit.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from jumbe.core.clock import utcnow
from jumbe.core.data_coding import decode_short_message
from jumbe.core.segments import Concat
from jumbe.core.sim_identifiers import COUNTRY_CODE
from jumbe.core.status import MessageStatus, combine_parts
from jumbe.services.events import Events, MessageReceived, Raised
from jumbe.services.numbering import NumberingService
from jumbe.services.transitions import refund_unsent, transition
from jumbe.store.database import CHUNK, Database
from jumbe.store.schema import (
    UTCDateTime,
    account_numbers,
    inbound_fragments,
    message_parts,
    messages,
    sims,
    unmatched_receipts,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SubmitError:
    temporary: bool
    code: str
    description: str


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What an attempt at handing a message to a carrier achieved so far.

    ``complete``: every part is taken (the message is sent). ``error``: the
    attempt ended without that (temporary: queue it again; else: it failed).
    Neither: progress on a long message, parts taken and more to come.
    """

    message_id: int
    connector: str
    acked_parts: tuple[tuple[int, str], ...]  # (part_no, carrier message id) taken this attempt
    complete: bool  # every part of the message has now been taken
    error: SubmitError | None = None
    retry_at: datetime | None = None
    parts: int = 1  # of the whole message


@dataclass(frozen=True, slots=True)
class CarrierReceipt:
    connector: str
    carrier_message_id: str
    status: MessageStatus  # a final status
    error_code: str
    done_at: datetime
    parked: bool = False  # read back from unmatched_receipts, to be removed once matched


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An MO message as it came off the wire, or one segment of a long one (``concat`` set)."""

    connector: str
    sender: str
    recipient: str
    payload: bytes
    data_coding: int
    received_at: datetime
    concat: Concat | None = None


Fact = SubmitOutcome | CarrierReceipt | InboundMessage

RECEIPT_DETAIL = {
    MessageStatus.DELIVERED: "delivered to the handset",
    MessageStatus.FAILED: "the carrier could not deliver it",
    MessageStatus.EXPIRED: "the carrier gave up: validity period ended",
}


_INSERT_PARTS = insert(message_parts)
_RETRY = (
    update(messages)
    .where(messages.c.id == bindparam("mid"), messages.c.status == "accepted")
    .values(
        attempts=messages.c.attempts + 1,
        next_attempt_at=bindparam("due", type_=UTCDateTime),
        status_detail=bindparam("why"),
        lease_owner=None,
        lease_until=None,
    )
)
_FIND_PARTS = (
    select(
        message_parts.c.message_id,
        message_parts.c.part_no,
        message_parts.c.carrier_message_id,
        messages.c.parts,
    )
    .join(messages, messages.c.id == message_parts.c.message_id)
    .where(
        message_parts.c.connector == bindparam("connector"),
        message_parts.c.carrier_message_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(message_parts.c.message_id)
)
_PART_DONE = (
    update(message_parts)
    .where(
        message_parts.c.message_id == bindparam("mid"),
        message_parts.c.part_no == bindparam("pno"),
        message_parts.c.status.is_(None),
    )
    .values(
        status=bindparam("outcome"),
        error_code=bindparam("err"),
        done_at=bindparam("done", type_=UTCDateTime),
    )
)
_PART_STATES = (
    select(
        messages.c.id,
        messages.c.parts,
        message_parts.c.part_no,
        message_parts.c.status,
        message_parts.c.error_code,
    )
    .join(message_parts, message_parts.c.message_id == messages.c.id)
    .where(messages.c.id.in_(bindparam("ids", expanding=True)), messages.c.status == "sent")
)
_OWNERS = select(account_numbers.c.number, account_numbers.c.account_id).where(
    account_numbers.c.number.in_(bindparam("numbers", expanding=True))
)
_DEVICES = select(sims.c.msisdn, sims.c.id, sims.c.account_id).where(
    sims.c.msisdn.in_(bindparam("numbers", expanding=True))
)
_INSERT_INBOUND = insert(messages).returning(messages.c.id, messages.c.uuid)


def _devices(conn: Connection, senders: list[str]) -> dict[str, tuple[int, int]]:
    """IoT SIMs among the senders, by the number as received: (sim id, account id)."""
    national = {n[len(COUNTRY_CODE) :]: n for n in senders if n.startswith(COUNTRY_CODE)}
    if not national:
        return {}
    rows = conn.execute(_DEVICES, {"numbers": sorted(national)})
    return {national[r.msisdn]: (r.id, r.account_id) for r in rows}


Finals = dict[tuple[MessageStatus, str | None], list[int]]

UNMATCHED_TTL = timedelta(days=3)  # a receipt no submit claimed by then answers none of ours
_PARKED_FOR = select(unmatched_receipts).where(
    unmatched_receipts.c.connector == bindparam("connector"),
    unmatched_receipts.c.carrier_message_id.in_(bindparam("ids", expanding=True)),
)
# the sweeper looks only at receipts kept this recently: the race it closes (a submit
# recorded on another node while its receipt was being kept) lasts a moment, and a
# carrier's receipts for messages that are not ours must not be rescanned every pass
MATCH_WINDOW = timedelta(minutes=10)
_MATCHABLE = (
    select(unmatched_receipts)
    .where(unmatched_receipts.c.received_at > bindparam("since", type_=UTCDateTime))
    .join(
        message_parts,
        and_(
            message_parts.c.connector == unmatched_receipts.c.connector,
            message_parts.c.carrier_message_id == unmatched_receipts.c.carrier_message_id,
        ),
    )
    .limit(1000)
)
_UNPARK = delete(unmatched_receipts).where(
    unmatched_receipts.c.connector == bindparam("c"),
    unmatched_receipts.c.carrier_message_id == bindparam("cid"),
)


def _parked(row: Any) -> CarrierReceipt:
    return CarrierReceipt(
        connector=row.connector,
        carrier_message_id=row.carrier_message_id,
        status=MessageStatus(row.status),
        error_code=row.error_code,
        done_at=row.done_at,
        parked=True,
    )


def _parked_for(conn: Connection, outcomes: list[SubmitOutcome]) -> list[CarrierReceipt]:
    """Receipts that came before these carrier ids were recorded."""
    by_connector: dict[str, list[str]] = defaultdict(list)
    for o in outcomes:
        by_connector[o.connector].extend(carrier_id for _, carrier_id in o.acked_parts)
    found: list[CarrierReceipt] = []
    for connector, ids in by_connector.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            found += map(_parked, conn.execute(_PARKED_FOR, {"connector": connector, "ids": chunk}))
    return found


class DeliveryService:
    def __init__(
        self,
        db: Database,
        numbering: NumberingService,
        events: Events,
        *,
        receipt_grace: timedelta,
        receipt_query_after: timedelta,
    ) -> None:
        """``receipt_query_after``: a part this long without a receipt is asked about."""
        self.db = db
        self.numbering = numbering
        self.events = events
        self.receipt_grace = receipt_grace
        self.receipt_query_after = receipt_query_after

    async def record(self, facts: Sequence[Fact]) -> list[bool]:
        """Write a batch of facts; the result per fact says whether it matched a message."""
        now = utcnow()
        outcomes = [f for f in facts if isinstance(f, SubmitOutcome)]
        receipts = [f for f in facts if isinstance(f, CarrierReceipt)]
        # senders as every number is stored: 0712… becomes 254712…; names stay as they came
        inbound = [
            replace(f, sender=self.numbering.sender(f.sender))
            for f in facts
            if isinstance(f, InboundMessage)
        ]
        unroutable: list[InboundMessage] = []

        def record_facts(conn: Connection, raised: Raised) -> dict[int, bool]:
            finals: Finals = defaultdict(list)
            settle: set[int] = set()
            if outcomes:
                settle |= self._record_outcomes(conn, outcomes, now, raised)
            matched: dict[int, bool] = {}
            # a receipt may have come before its submit's carrier id was recorded
            early = _parked_for(conn, outcomes) if outcomes else []
            if receipts or early:
                matched, touched = self._record_receipts(conn, receipts + early, finals, now)
                settle |= touched
            if settle:
                self._settle(conn, sorted(settle), finals)
            for (status, error), ids in finals.items():
                transition(
                    conn,
                    ids,
                    status,
                    now=now,
                    detail=RECEIPT_DETAIL[status],
                    error_code=error,
                    raised=raised,
                )
            if inbound:
                unroutable[:] = self._record_inbound(conn, inbound, raised)
            return matched

        matched = await self.events.write(self.db, record_facts)
        for m in unroutable:
            log.warning(
                "unroutable MO message from %s via %s: no account owns the number %s;"
                " stored without an account",
                _masked(m.sender),
                m.connector,
                m.recipient,
            )
        return [matched.get(id(f), True) for f in facts]

    def _record_outcomes(
        self, conn: Connection, outcomes: list[SubmitOutcome], now: datetime, raised: Raised
    ) -> set[int]:
        parts = [
            {
                "message_id": o.message_id,
                "part_no": part_no,
                "connector": o.connector,
                "carrier_message_id": carrier_id,
                "submitted_at": now,
                "query_at": now + self.receipt_query_after,
            }
            for o in outcomes
            for part_no, carrier_id in o.acked_parts
        ]
        if parts:
            conn.execute(_INSERT_PARTS, parts)
        sent: dict[str, list[int]] = defaultdict(list)
        failed: dict[tuple[str, str], list[int]] = defaultdict(list)
        retries: list[dict[str, Any]] = []
        for o in outcomes:
            if o.error is None:
                if o.complete:
                    sent[o.connector].append(o.message_id)
            elif not o.error.temporary:
                failed[(o.error.code, o.error.description)].append(o.message_id)
            else:
                retries.append(
                    {
                        "mid": o.message_id,
                        "due": o.retry_at or now,
                        "why": o.error.description[:255],
                    }
                )
        for connector, ids in sent.items():
            transition(
                conn,
                ids,
                MessageStatus.SENT,
                now=now,
                detail=f"handed to carrier via {connector}",
                via=connector,
                raised=raised,
            )
        for (code, description), ids in failed.items():
            moved = transition(
                conn,
                ids,
                MessageStatus.FAILED,
                now=now,
                detail=description,
                error_code=code,
                raised=raised,
            )
            refund_unsent(conn, moved, now=now, why="rejected by the carrier")
        if retries:
            conn.execute(_RETRY, retries)
        # only a multi-part message can have receipts stored before its last part was
        # taken (a single part's carrier id exists only from its own answer on)
        return {o.message_id for o in outcomes if o.complete and o.parts > 1}

    def _record_receipts(
        self, conn: Connection, receipts: list[CarrierReceipt], finals: Finals, now: datetime
    ) -> tuple[dict[int, bool], set[int]]:
        """Store receipts on their parts; a single-part message's receipt is its final status
        (into ``finals``); multi-part messages touched are returned to be settled.

        A receipt that matches no part yet is parked in ``unmatched_receipts`` (a
        carrier's repeat of it changes nothing), and a parked one that matches now
        is removed from there.
        """
        by_connector: dict[str, list[CarrierReceipt]] = defaultdict(list)
        for r in receipts:
            by_connector[r.connector].append(r)
        found: dict[tuple[str, str], tuple[int, int, int]] = {}
        for connector, group in by_connector.items():
            ids = list({r.carrier_message_id for r in group})
            for start in range(0, len(ids), CHUNK):
                rows = conn.execute(
                    _FIND_PARTS, {"connector": connector, "ids": ids[start : start + CHUNK]}
                )
                for row in rows:  # carriers recycle ids: the newest message wins
                    found[(connector, row.carrier_message_id)] = (
                        row.message_id,
                        row.part_no,
                        row.parts,
                    )
        matched: dict[int, bool] = {}
        updates: list[dict[str, Any]] = []
        multipart: set[int] = set()
        park: list[dict[str, Any]] = []
        unpark: list[dict[str, str]] = []
        for r in receipts:
            key = found.get((r.connector, r.carrier_message_id))
            matched[id(r)] = key is not None
            if key is None:
                if not r.parked:
                    park.append(_parking(r, now))
                continue
            if r.parked:
                unpark.append({"c": r.connector, "cid": r.carrier_message_id})
            message_id, part_no, parts = key
            updates.append(
                {
                    "mid": message_id,
                    "pno": part_no,
                    "outcome": r.status.value,
                    "err": r.error_code,
                    "done": r.done_at,
                }
            )
            if parts == 1:
                error = r.error_code if r.status is not MessageStatus.DELIVERED else None
                finals[(r.status, error or None)].append(message_id)
            else:
                multipart.add(message_id)
        if updates:
            conn.execute(_PART_DONE, updates)
        if unpark:
            conn.execute(_UNPARK, unpark)
        if park:
            conn.execute(
                self.db.insert(unmatched_receipts).on_conflict_do_nothing(
                    index_elements=["connector", "carrier_message_id"]
                ),
                park,
            )
        return matched, multipart

    def _settle(self, conn: Connection, message_ids: list[int], finals: Finals) -> None:
        """Sent multi-part messages whose every part has a receipt: their final status."""
        states: dict[int, dict[int, tuple[str | None, str | None]]] = defaultdict(dict)
        part_counts: dict[int, int] = {}
        for start in range(0, len(message_ids), CHUNK):
            for row in conn.execute(_PART_STATES, {"ids": message_ids[start : start + CHUNK]}):
                part_counts[row.id] = row.parts
                states[row.id][row.part_no] = (row.status, row.error_code)
        for mid, parts in states.items():
            if len(parts) < part_counts[mid]:
                continue
            final = combine_parts(
                [MessageStatus(s) if s else None for s, _ in (parts[p] for p in sorted(parts))]
            )
            if final is None:
                continue
            error = None
            if final is not MessageStatus.DELIVERED:
                error = next((e for s, e in parts.values() if s != "delivered" and e), None)
            finals[(final, error)].append(mid)

    def _record_inbound(
        self, conn: Connection, inbound: list[InboundMessage], raised: Raised
    ) -> list[InboundMessage]:
        """Store the complete MO messages; those to a number no account owns are returned."""
        whole = [m for m in inbound if m.concat is None]
        fragments = [m for m in inbound if m.concat is not None]
        if fragments:
            whole.extend(self._reassemble(conn, fragments))
        if not whole:
            return []
        owners = {
            r.number: r.account_id
            for r in conn.execute(_OWNERS, {"numbers": list({m.recipient for m in whole})})
        }
        devices = _devices(conn, [m.sender for m in whole])
        rows: list[dict[str, Any]] = []
        for m in whole:
            text, encoding = decode_short_message(m.data_coding, m.payload)
            owner = owners.get(m.recipient)
            device = devices.get(m.sender)
            rows.append(
                {
                    "uuid": str(uuid.uuid4()),
                    "account_id": owner,
                    # a reply from one of the account's own IoT SIMs joins the SIM's thread
                    "sim_id": device[0] if device and device[1] == owner else None,
                    "direction": "mo",
                    "source": "carrier",
                    "sender": m.sender[:21],
                    "recipient": m.recipient[:21],
                    "carrier": self.numbering.table.carrier_of(m.sender),
                    "body": text,
                    "encoding": encoding,
                    "parts": m.concat.total if m.concat else 1,
                    "units": 0,
                    "status": MessageStatus.RECEIVED.value,
                    "status_at": m.received_at,
                    "status_detail": f"received via {m.connector}",
                    "created_at": m.received_at,
                    "valid_until": m.received_at,
                    "next_attempt_at": m.received_at,
                }
            )
        ids = {r.uuid: r.id for r in conn.execute(_INSERT_INBOUND, rows)}
        raised.add(
            MessageReceived(
                message_id=ids[row["uuid"]],
                uuid=row["uuid"],
                account_id=row["account_id"],
                sim_id=row["sim_id"],
                sender=row["sender"],
                recipient=row["recipient"],
                body=row["body"],
                encoding=row["encoding"],
                parts=row["parts"],
                received_at=row["created_at"],
            )
            for row in rows
        )
        return [m for m in whole if m.recipient not in owners]

    def _reassemble(
        self, conn: Connection, fragments: list[InboundMessage]
    ) -> list[InboundMessage]:
        """Store segments; return the messages whose last segment has now arrived."""
        f = inbound_fragments
        conn.execute(
            self.db.insert(f).on_conflict_do_nothing(),  # a carrier may resend a segment
            [
                {
                    "connector": m.connector,
                    "sender": m.sender[:21],
                    "recipient": m.recipient[:21],
                    "reference": m.concat.reference,
                    "total": m.concat.total,
                    "sequence": m.concat.sequence,
                    "payload": m.payload,
                    "data_coding": m.data_coding,
                    "received_at": m.received_at,
                }
                for m in fragments
                if m.concat is not None
            ],
        )
        complete = []
        keys = {
            (m.connector, m.sender[:21], m.recipient[:21], m.concat.reference)
            for m in fragments
            if m.concat
        }
        for connector, sender, recipient, reference in keys:
            same = and_(
                f.c.connector == connector,
                f.c.sender == sender,
                f.c.recipient == recipient,
                f.c.reference == reference,
            )
            parts = (conn.execute(select(f).where(same).order_by(f.c.sequence))).all()
            if not parts or len(parts) < parts[0].total:
                continue
            conn.execute(delete(f).where(same))
            complete.append(
                InboundMessage(
                    connector=connector,
                    sender=sender,
                    recipient=recipient,
                    payload=b"".join(p.payload for p in parts),
                    data_coding=parts[0].data_coding,
                    received_at=parts[-1].received_at,
                    concat=Concat(reference, parts[0].total, parts[0].total),
                )
            )
        return complete

    async def match_parked(self) -> int:
        """Apply parked receipts whose submit has been recorded meanwhile.

        The submit's own transaction applies the receipts parked before it; this
        catches the ones parked at the same moment on another node, which that
        transaction could not see yet. Returns how many were applied.
        """
        since = utcnow() - MATCH_WINDOW
        rows = await self.db.read(lambda conn: conn.execute(_MATCHABLE, {"since": since}).all())
        if rows:
            await self.record([_parked(r) for r in rows])
        return len(rows)

    async def prune_unmatched(self) -> int:
        """Forget receipts that no submit claimed in ``UNMATCHED_TTL`` (not ours)."""
        cutoff = utcnow() - UNMATCHED_TTL
        return await self.db.write(
            lambda conn: (
                conn.execute(
                    delete(unmatched_receipts).where(unmatched_receipts.c.received_at < cutoff)
                ).rowcount
            )
        )

    async def drop_stale_fragments(self, older_than: timedelta) -> int:
        """Segments whose siblings never came; carriers give up on them long before this."""
        cutoff = utcnow() - older_than
        return await self.db.write(
            lambda conn: (
                conn.execute(
                    delete(inbound_fragments).where(inbound_fragments.c.received_at < cutoff)
                ).rowcount
            )
        )

    async def expire_overdue(self, *, limit: int = 1000) -> int:
        """Expire what can no longer be delivered; refund what never left the platform."""
        now = utcnow()

        def expire_waiting(conn: Connection, raised: Raised) -> int:
            waiting = (
                conn.execute(
                    select(messages.c.id)
                    .where(messages.c.status == "accepted", messages.c.valid_until <= now)
                    .where((messages.c.lease_until.is_(None)) | (messages.c.lease_until < now))
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            moved = transition(
                conn,
                list(waiting),
                MessageStatus.EXPIRED,
                now=now,
                detail="validity period ended before a carrier accepted it",
                raised=raised,
            )
            refund_unsent(conn, moved, now=now, why="expired unsent")
            unanswered = (
                conn.execute(
                    select(messages.c.id)
                    .where(
                        messages.c.status == "sent",
                        messages.c.valid_until <= now - self.receipt_grace,
                    )
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            moved_sent = transition(
                conn,
                list(unanswered),
                MessageStatus.EXPIRED,
                now=now,
                detail="no delivery receipt from the carrier within the validity period",
                raised=raised,
            )
            return len(moved) + len(moved_sent)

        return await self.events.write(self.db, expire_waiting)


def _parking(r: CarrierReceipt, now: datetime) -> dict[str, Any]:
    return {
        "connector": r.connector,
        "carrier_message_id": r.carrier_message_id,
        "status": r.status.value,
        "error_code": r.error_code,
        "done_at": r.done_at,
        "received_at": now,
    }


def _masked(number: str) -> str:
    """A sender for the log: enough to recognise it, not the whole personal number."""
    return number[:6] + "*" * (len(number) - 6) if number.isdigit() and len(number) > 8 else number
