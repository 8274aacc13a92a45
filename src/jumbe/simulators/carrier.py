"""An SMSC that behaves like a Kenyan carrier, for the embedded default setup and for tests.

Outcomes are decided by the destination number (suffix rules) so a test can ask for a
rejection, a failure, an expiry or silence without any out-of-band setup, and everything else
can be made to fail at a seeded random rate to exercise retry and reporting paths.

Devices can be taken offline (``take_offline``): messages to them are accepted and kept, as a
real SMSC stores and forwards, and their receipts wait until the device comes back or the
submit's validity period ends (see ``devices.py``).

Like a real SMSC it forgets nothing it owes when its process dies: every accepted message
(its outcome, answered to ``query_sm``), each receipt and MO not yet taken by a receiver,
and the offline devices are kept in a journal (``journal.py``), and a restarted simulator
sends what is still owed to the next receiver that binds.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from jumbe.core.clock import utcnow
from jumbe.core.data_coding import decode_short_message
from jumbe.core.segments import Encoding, concat_udh, encode_text, segment, split_udh
from jumbe.simulators.devices import DeviceView, OfflineDevices, device_number
from jumbe.simulators.journal import Journal
from jumbe.simulators.outbox import Outbox, Outgoing
from jumbe.smpp import Session, serve
from jumbe.smpp.constants import (
    DC_DEFAULT,
    DC_UCS2,
    ESM_UDHI,
    INTERFACE_VERSION,
    CommandStatus,
    MessageState,
    Tag,
)
from jumbe.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
    response_for,
    set_tlv_int,
)
from jumbe.smpp.receipt import DeliveryReceipt, receipt_pdu
from jumbe.smpp.timefmt import format_smpp_time, parse_smpp_time

__all__ = ["CarrierBehaviour", "CarrierSimulator", "Submission"]

_log = logging.getLogger(__name__)

SMSC_SYSTEM_ID = "JUMBESIM"
MAX_SUBMISSIONS = 100_000
WINDOW = 10
PRUNE_EVERY = 3600.0  # seconds between sweeps of the journal's settled messages


@dataclass
class CarrierBehaviour:
    receipt_delay: float = 1.0  # seconds from submit to receipt
    undeliverable_suffixes: tuple[str, ...] = ()  # receipt stat UNDELIV (err 001)
    rejected_suffixes: tuple[str, ...] = ()  # submit_sm_resp ESME_RINVDSTADR
    expired_suffixes: tuple[str, ...] = ()  # receipt stat EXPIRED
    silent_suffixes: tuple[str, ...] = ()  # no receipt ever
    # delivered, but the receipt is lost on the way: only query_sm tells
    lost_receipt_suffixes: tuple[str, ...] = ()
    failure_ratio: float = 0.0  # share of the remaining messages that end UNDELIV
    max_tps: float | None = None  # whole simulator, 1 s sliding window -> ESME_RTHROTTLED
    seed: int | None = None
    # seconds a message waits for an offline device when its submit names no validity_period
    default_validity: float = 72 * 3600.0


@dataclass(frozen=True, slots=True)
class Submission:
    """One accepted submit_sm, as tests and the crash-duplicate check need to see it."""

    message_id: str
    system_id: str
    source_addr: str
    destination_addr: str
    data_coding: int
    esm_class: int
    short_message: bytes
    registered_delivery: int
    tlvs: dict[int, bytes]
    received_at: float  # time.time()
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    validity_period: str = ""  # as submitted: SMPP time, absolute or relative, or ""


@dataclass(slots=True)
class _Stats:
    binds: int = 0
    bind_failures: int = 0
    submits: int = 0
    rejected: int = 0
    throttled: int = 0
    receipts_sent: int = 0
    mo_sent: int = 0


@dataclass(order=True, slots=True)
class _DueReceipt:
    due: float
    seq: int
    submission: Submission = field(compare=False)
    state: MessageState = field(compare=False)
    origin: Session | None = field(compare=False)


class _HeldMessage(NamedTuple):
    """A message kept for an offline device; its receipt still prefers the submitting bind."""

    submission: Submission
    origin: Session | None


_STAT_WORD = {
    MessageState.DELIVERED: "DELIVRD",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.EXPIRED: "EXPIRED",
}


class CarrierSimulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        system_id: str,
        password: str,
        behaviour: CarrierBehaviour | None = None,
        submission_log: Path | None = None,
        window: int = WINDOW,
        journal: Path | None = None,
    ) -> None:
        """``journal``: the file that keeps what is owed across restarts (None: memory)."""
        self.host = host
        self.port = port
        self.system_id = system_id
        self.password = password
        self.behaviour = behaviour or CarrierBehaviour()
        self.submission_log = submission_log
        self.submissions: list[Submission] = []
        self._stats = _Stats()
        self._sessions: set[Session] = set()
        self._server: asyncio.Server | None = None
        self.window = window  # outstanding PDUs per session, each way, as carriers allow
        self._outbox = Outbox(workers_per_session=window, on_done=self._delivered)
        self._due: list[_DueReceipt] = []
        self._due_seq = 0
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._recent_submits: deque[float] = deque()
        self._devices: OfflineDevices[_HeldMessage] = OfflineDevices(
            release=self._released, expire=self._expired
        )
        # Ids: a random per-instance prefix keeps them unique across simulator restarts.
        self._id_prefix = int.from_bytes(os.urandom(4), "big")
        self._id_counter = 0
        self._concat_ref = 0
        self._log_file: IO[str] | None = None
        self._journal_path = journal
        self._journal: Journal | None = None
        self._pruning: asyncio.TimerHandle | None = None

    @property
    def behaviour(self) -> CarrierBehaviour:
        return self._behaviour

    @behaviour.setter
    def behaviour(self, value: CarrierBehaviour) -> None:
        """Replacing the behaviour reseeds the failure draws, so a seeded run is repeatable."""
        self._behaviour = value
        self._rng = random.Random(value.seed)

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def journal(self) -> Journal:
        assert self._journal is not None, "the simulator is not started"
        return self._journal

    async def start(self) -> None:
        if self.submission_log is not None:
            self.submission_log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.submission_log.open("a", encoding="utf-8")
        self._journal = Journal(self._journal_path)
        self._restore()
        self._prune()
        self._server = await serve(
            lambda session: _Handler(self, session),
            self.host,
            self.port,
            window=self.window,
            inbound_window=100,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._scheduler = asyncio.get_running_loop().create_task(self._run_scheduler())
        _log.info("carrier simulator listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close()
        for session in list(self._sessions):
            try:
                async with asyncio.timeout(2):
                    await session.wait_closed()
            except TimeoutError:
                session.abort()
        if self._scheduler is not None:
            self._scheduler.cancel()
            self._scheduler = None
        if self._pruning is not None:
            self._pruning.cancel()
        self._devices.close()
        self._outbox.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # --- control -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        s = self._stats
        return {
            "binds": s.binds,
            "bind_failures": s.bind_failures,
            "submits": s.submits,
            "rejected": s.rejected,
            "throttled": s.throttled,
            "receipts_sent": s.receipts_sent,
            "receipts_scheduled": len(self._due),
            "messages_held": self._devices.held,
            "devices_offline": self._devices.offline,
            "mo_sent": s.mo_sent,
            "deliveries_queued": self._outbox.pending,
            "sessions": len(self._sessions),
            "receivers": self._outbox.receivers,
        }

    async def inject_mo(self, source: str, destination: str, text: str) -> None:
        """Queue an MO for delivery; long text goes out as UDH-concatenated parts."""
        seg = segment(text)
        data_coding = DC_DEFAULT if seg.encoding is Encoding.GSM7 else DC_UCS2
        total = len(seg.parts)
        reference = self._concat_ref
        self._concat_ref = (self._concat_ref + 1) & 0xFF
        for number, part in enumerate(seg.parts, 1):
            payload = encode_text(part, seg.encoding)
            pdu = DeliverSm(
                source_addr_ton=1 if source.isdigit() else 5,
                source_addr_npi=1 if source.isdigit() else 0,
                source_addr=source,
                dest_addr_ton=0,
                dest_addr_npi=1,
                destination_addr=destination,
                data_coding=data_coding,
            )
            if total > 1:
                pdu.esm_class = ESM_UDHI
                payload = concat_udh(reference, total, number) + payload
            pdu.short_message = payload
            self._outbox.put(Outgoing(pdu, "mo", key=self.journal.mo_queued(encode(pdu))))
        await self.journal.durable()

    def take_offline(self, msisdn: str, for_seconds: float | None = None) -> DeviceView:
        """Make a device unreachable (for ``for_seconds``, or until ``bring_online``).

        ``msisdn`` is national (300000003036) or international (254300000003036); a bad one
        raises ValueError with the reason.
        """
        view = self._devices.take_offline(msisdn, for_seconds)
        # a device that comes back by itself leaves its row behind; a past back_at says so
        self.journal.offline(view.msisdn, view.back_at.timestamp() if view.back_at else None)
        return view

    def bring_online(self, msisdn: str) -> int:
        """The device attaches again; returns how many held messages go out to it now."""
        released = self._devices.bring_online(msisdn)
        self.journal.online(device_number(msisdn))
        return released

    def offline_devices(self) -> list[DeviceView]:
        return self._devices.views()

    async def drop_binds(self) -> int:
        """Abort every bound session, as a carrier-side network failure would."""
        bound = [s for s in self._sessions if s.can_transmit or s.can_receive]
        for session in bound:
            session.abort()
        return len(bound)

    # --- SMPP handling -------------------------------------------------------------------------

    def _bind(self, session: Session, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> Pdu:
        if pdu.system_id != self.system_id:
            status = CommandStatus.ESME_RBINDFAIL
        elif pdu.password != self.password:
            status = CommandStatus.ESME_RINVPASWD
        else:
            status = CommandStatus.ESME_ROK
        resp = response_for(pdu, status)
        if status:
            self._stats.bind_failures += 1
            return resp
        self._stats.binds += 1
        resp.system_id = SMSC_SYSTEM_ID
        set_tlv_int(resp, Tag.SC_INTERFACE_VERSION, INTERFACE_VERSION, 1)
        if not isinstance(pdu, BindTransmitter):
            # The session records the bind only after this answer is returned.
            asyncio.get_running_loop().call_soon(self._outbox.add_receiver, session)
        return resp

    def _submit(self, session: Session, pdu: SubmitSm) -> Pdu:
        behaviour = self._behaviour
        now = time.monotonic()
        if behaviour.max_tps is not None:
            recent = self._recent_submits
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= behaviour.max_tps:
                self._stats.throttled += 1
                return response_for(pdu, CommandStatus.ESME_RTHROTTLED)
            recent.append(now)
        destination = pdu.destination_addr
        if destination.endswith(behaviour.rejected_suffixes):
            self._stats.rejected += 1
            return response_for(pdu, CommandStatus.ESME_RINVDSTADR)
        try:
            validity = _validity(pdu.validity_period, behaviour.default_validity)
        except ValueError:
            self._stats.rejected += 1
            return response_for(pdu, CommandStatus.ESME_RINVEXPIRY)
        submission = self._record(session, pdu)
        expires = time.time() + validity
        if self._devices.holds(destination):
            self._devices.hold(destination, _HeldMessage(submission, session), validity)
            self.journal.submitted(
                submission.message_id,
                _to_json(submission),
                state=None,
                due=None,
                owed=False,
                held_for=destination.removeprefix("+"),
                expires=expires,
            )
        else:
            state = self._outcome(destination, behaviour)
            owed = self._report(submission, state, session, behaviour.receipt_delay)
            self.journal.submitted(
                submission.message_id,
                _to_json(submission),
                state=state,
                due=time.time() + behaviour.receipt_delay,
                owed=owed,
                held_for=None,
                expires=expires,
            )
        return SubmitSmResp(message_id=submission.message_id)

    def _query(self, pdu: QuerySm) -> Pdu:
        """The message's state as this SMSC knows it: en route until its outcome is due."""
        found = self.journal.find(pdu.message_id)
        if found is None:
            return response_for(pdu, CommandStatus.ESME_RQUERYFAIL)
        now = time.time()
        state, final = MessageState.ENROUTE, ""
        if found.held or found.due is None or now < found.due:
            pass  # waiting for its device, or not there yet
        elif found.state is not None:
            state, final = MessageState(found.state), _smpp_time(found.due)
        elif now >= found.expires:  # the network never reported on it: it lapsed
            state, final = MessageState.EXPIRED, _smpp_time(found.expires)
        failed = state in (MessageState.UNDELIVERABLE, MessageState.EXPIRED)
        return QuerySmResp(
            message_id=pdu.message_id,
            final_date=final,
            message_state=state,
            error_code=1 if failed else 0,
        )

    def _record(self, session: Session, pdu: SubmitSm) -> Submission:
        self._id_counter += 1
        submission = Submission(
            message_id=f"{self._id_prefix:08x}{self._id_counter:08x}",
            system_id=session.system_id or "",
            source_addr=pdu.source_addr,
            destination_addr=pdu.destination_addr,
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            short_message=pdu.short_message,
            registered_delivery=pdu.registered_delivery,
            tlvs=dict(pdu.tlvs),
            received_at=time.time(),
            source_addr_ton=pdu.source_addr_ton,
            source_addr_npi=pdu.source_addr_npi,
            dest_addr_ton=pdu.dest_addr_ton,
            dest_addr_npi=pdu.dest_addr_npi,
            validity_period=pdu.validity_period,
        )
        self._stats.submits += 1
        self.submissions.append(submission)
        if len(self.submissions) > MAX_SUBMISSIONS * 11 // 10:  # trim in batches: O(1) amortised
            del self.submissions[: len(self.submissions) - MAX_SUBMISSIONS]
        if self._log_file is not None:
            line = {
                "message_id": submission.message_id,
                "destination_addr": submission.destination_addr,
                "short_message": submission.short_message.hex(),
                "esm_class": submission.esm_class,
                "received_at": submission.received_at,
            }
            self._log_file.write(json.dumps(line) + "\n")
            self._log_file.flush()
        return submission

    def _outcome(self, destination: str, behaviour: CarrierBehaviour) -> MessageState | None:
        """The final state of a message, or None for one the network never reports on."""
        if destination.endswith(behaviour.silent_suffixes):
            return None
        if destination.endswith(behaviour.undeliverable_suffixes):
            return MessageState.UNDELIVERABLE
        if destination.endswith(behaviour.expired_suffixes):
            return MessageState.EXPIRED
        # Draw only when a ratio is set, so a seeded sequence depends on nothing else.
        if behaviour.failure_ratio > 0 and self._rng.random() < behaviour.failure_ratio:
            return MessageState.UNDELIVERABLE
        return MessageState.DELIVERED

    # --- receipts ------------------------------------------------------------------------------

    def _released(self, held: _HeldMessage) -> None:
        """The device came back: the message reaches it now, by the usual rules and delay."""
        behaviour = self._behaviour
        state = self._outcome(held.submission.destination_addr, behaviour)
        self._settle(held, state, behaviour.receipt_delay)

    def _expired(self, held: _HeldMessage) -> None:
        """The validity period ended first: the SMSC gives up and says so at once."""
        self._settle(held, MessageState.EXPIRED, 0.0)

    def _settle(self, held: _HeldMessage, state: MessageState | None, delay: float) -> None:
        owed = self._report(held.submission, state, held.origin, delay)
        self.journal.settled(
            held.submission.message_id, state=state, due=time.time() + delay, owed=owed
        )

    def _report(
        self,
        submission: Submission,
        state: MessageState | None,
        origin: Session | None,
        delay: float,
    ) -> bool:
        """Schedule the receipt the submit asked for (registered_delivery); whether one is."""
        if submission.destination_addr.endswith(self._behaviour.lost_receipt_suffixes):
            return False
        wanted = submission.registered_delivery & 0x03
        if state is not None and (
            wanted == 1 or (wanted == 2 and state is not MessageState.DELIVERED)
        ):
            self._schedule(submission, state, origin, delay)
            return True
        return False

    def _schedule(
        self, submission: Submission, state: MessageState, origin: Session | None, delay: float
    ) -> None:
        self._due_seq += 1
        item = _DueReceipt(time.monotonic() + delay, self._due_seq, submission, state, origin)
        heapq.heappush(self._due, item)
        if self._due[0] is item:
            self._wake.set()

    async def _run_scheduler(self) -> None:
        """One task and a heap for every pending receipt: 100k of them cost one timer."""
        due = self._due
        while True:
            now = time.monotonic()
            while due and due[0].due <= now:
                item = heapq.heappop(due)
                receipt = self._receipt(item)
                self._outbox.put(
                    Outgoing(receipt, "receipt", item.origin, key=item.submission.message_id)
                )
            self._wake.clear()
            try:
                async with asyncio.timeout(due[0].due - now if due else None):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _receipt(self, item: _DueReceipt) -> DeliverSm:
        sub = item.submission
        delivered = item.state is MessageState.DELIVERED
        receipt = DeliveryReceipt(
            message_id=sub.message_id,
            submitted=1,
            delivered=1 if delivered else 0,
            submit_date=datetime.fromtimestamp(sub.received_at, UTC),
            done_date=utcnow(),
            stat=_STAT_WORD[item.state],
            err="000" if delivered else "001",
            text=_text_of(sub)[:20],
        )
        pdu = receipt_pdu(
            receipt,
            source_addr=sub.destination_addr,
            destination_addr=sub.source_addr,
            message_state=item.state,
        )
        pdu.source_addr_ton, pdu.source_addr_npi = sub.dest_addr_ton, sub.dest_addr_npi
        pdu.dest_addr_ton, pdu.dest_addr_npi = sub.source_addr_ton, sub.source_addr_npi
        return pdu

    def _delivered(self, item: Outgoing, accepted: bool) -> None:
        """A receiver took it (or refused it for good): it is owed no longer."""
        if item.kind == "receipt":
            self._stats.receipts_sent += accepted
            self.journal.receipt_delivered(str(item.key))
        else:
            self._stats.mo_sent += accepted
            self.journal.mo_delivered(int(item.key or 0))

    # --- restarts ------------------------------------------------------------------------------

    def _restore(self) -> None:
        """Take up what a previous run of this SMSC still owed, as if it had never stopped."""
        pending = self.journal.pending()
        now = time.time()
        for device, back_at in pending.offline:
            if back_at is None or back_at > now:
                self._devices.take_offline(device, None if back_at is None else back_at - now)
            else:
                self.journal.online(device)  # it came back while we were down
        for _message_id, record, device, expires in pending.held:
            held = _HeldMessage(_from_json(record), None)
            if self._devices.holds(device):
                self._devices.hold(device, held, expires - now)
            else:
                self._released(held)
        for _message_id, record, state, due in pending.receipts:
            self._schedule(_from_json(record), MessageState(state), None, max(due - now, 0.0))
        for row, encoded in pending.mo:
            pdu = decode(encoded)
            assert isinstance(pdu, DeliverSm)
            self._outbox.put(Outgoing(pdu, "mo", key=row))
        owed = len(pending.receipts) + len(pending.held) + len(pending.mo)
        if owed:
            _log.info(
                "carrier simulator: %d receipt(s), %d held message(s) and %d MO message(s)"
                " still owed from before the restart",
                len(pending.receipts),
                len(pending.held),
                len(pending.mo),
            )

    def _prune(self) -> None:
        self.journal.prune()
        self._pruning = asyncio.get_running_loop().call_later(PRUNE_EVERY, self._prune)

    # --- session bookkeeping -------------------------------------------------------------------

    def _opened(self, session: Session) -> None:
        self._sessions.add(session)

    def _closed(self, session: Session) -> None:
        self._sessions.discard(session)
        self._outbox.remove_receiver(session)


def _validity(value: str, default: float) -> float:
    """Seconds from now until a submit's validity_period ends (absolute or relative SMPP time;
    ``default`` when absent). Already past is fine: such a message expires at once if held.
    Raises ValueError for a malformed value, which the caller answers with ESME_RINVEXPIRY."""
    if not value:
        return default
    now = utcnow()
    until = parse_smpp_time(value, now)
    return default if until is None else (until - now).total_seconds()


def _to_json(sub: Submission) -> str:
    """A submission as the journal keeps it."""
    record = {f.name: getattr(sub, f.name) for f in fields(sub)}
    record["short_message"] = sub.short_message.hex()
    record["tlvs"] = {str(tag): value.hex() for tag, value in sub.tlvs.items()}
    return json.dumps(record)


def _from_json(text: str) -> Submission:
    record = json.loads(text)
    record["short_message"] = bytes.fromhex(record["short_message"])
    record["tlvs"] = {int(tag): bytes.fromhex(value) for tag, value in record["tlvs"].items()}
    return Submission(**record)


def _smpp_time(at: float) -> str:
    return format_smpp_time(datetime.fromtimestamp(at, UTC))


def _text_of(sub: Submission) -> str:
    """Best-effort text of a submission for the receipt's text: field."""
    payload = sub.short_message or sub.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    if sub.esm_class & ESM_UDHI:
        try:
            _, payload = split_udh(payload)
        except ValueError:
            return ""
    text, _ = decode_short_message(sub.data_coding, payload)
    return text


class _Handler:
    """Per-session glue between the SMPP session and the simulator."""

    def __init__(self, simulator: CarrierSimulator, session: Session) -> None:
        self._sim = simulator
        simulator._opened(session)

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, SubmitSm):
            resp = self._sim._submit(session, pdu)
            if resp.command_status == CommandStatus.ESME_ROK:
                await self._sim.journal.durable()  # acknowledged only once it is kept
            return resp
        if isinstance(pdu, QuerySm):
            return self._sim._query(pdu)
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            return self._sim._bind(session, pdu)
        return response_for(pdu, CommandStatus.ESME_RINVCMDID)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        self._sim._closed(session)
