"""An upstream SMPP link to one carrier SMSC.

The connector keeps a transceiver bind up (reconnecting with backoff), takes
jobs from the dispatcher into a small queue, and submits them within the
session's window and the carrier's TPS. Every answer becomes a fact for the
recorder; receipts and MO messages are acknowledged to the carrier only after
the recorder has committed them, so nothing the carrier considers delivered to
us can be lost in a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiolimiter import AsyncLimiter

from jumbe import metrics
from jumbe.core.backoff import doubling_delay
from jumbe.core.clock import utcnow
from jumbe.core.data_coding import data_coding_for
from jumbe.core.segments import split_udh
from jumbe.core.status import MessageStatus, status_for_receipt
from jumbe.core.user_data import payloads
from jumbe.engine.recorder import Recorder
from jumbe.services.delivery import CarrierReceipt, InboundMessage, SubmitError, SubmitOutcome
from jumbe.settings import ConnectorSettings
from jumbe.smpp.client import connect
from jumbe.smpp.constants import ESM_UDHI, CommandStatus, MessageState, status_name
from jumbe.smpp.errors import BindFailed, ResponseTimeout, SessionClosed
from jumbe.smpp.pdu import (
    BindTransceiver,
    DeliverSm,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    response_for,
)
from jumbe.smpp.receipt import STAT_BY_STATE, receipt_from_pdu
from jumbe.smpp.session import Session
from jumbe.smpp.timefmt import format_smpp_time, parse_smpp_time

log = logging.getLogger(__name__)

# Answers that mean "not now" rather than "never": the message goes back to the queue.
TEMPORARY = {
    CommandStatus.ESME_RTHROTTLED,
    CommandStatus.ESME_RMSGQFUL,
    CommandStatus.ESME_RSYSERR,
    CommandStatus.ESME_RX_T_APPN,
    CommandStatus.ESME_RSUBMITFAIL,
}
THROTTLE_PAUSE = 1.0
THROTTLE_TRIES = 5
MAX_BACKOFF = 30.0
MAX_QUEUED = 5000


LinkState = Literal["bound", "connecting", "down"]


@dataclass(frozen=True, slots=True)
class DispatchJob:
    """A claimed message, with what a connector needs to put it on the wire."""

    message_id: int
    sender: str
    recipient: str
    body: str  # text, or hex for binary
    encoding: str  # gsm7, ucs2 or binary
    parts: int
    concat_ref: int
    valid_until: datetime
    attempts: int
    done_parts: frozenset[int] = field(default_factory=frozenset)
    udh: bytes | None = None  # the sender's own header for a segment it cut itself


def retry_delay(attempts: int) -> timedelta:
    """Backoff before the next attempt: 5 s, 10 s, 20 s … capped at 5 minutes, with jitter."""
    return doubling_delay(5.0, attempts, 300.0)


def source_address(sender: str) -> tuple[int, int]:
    """(TON, NPI) for a sender: alphanumeric, short code or international number."""
    if not sender.isdigit():
        return 0x05, 0x00
    if len(sender) <= 8:
        return 0x03, 0x00
    return 0x01, 0x01


class SmppConnector:
    def __init__(
        self,
        settings: ConnectorSettings,
        recorder: Recorder,
        *,
        on_capacity: Callable[[], None] = lambda: None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.endpoint = settings.endpoint
        self.recorder = recorder
        self.on_capacity = on_capacity
        self.ssl_context = ssl_context or (
            ssl.create_default_context() if self.endpoint.tls else None
        )
        # room for about a fifth of a second of traffic: enough to keep the windows
        # full, little enough that claimed messages do not wait long in memory
        windows = settings.window * settings.binds
        self.capacity = min(max(windows * 4, int(settings.tps / 5)), MAX_QUEUED)
        self._signalled = False
        self._queue: asyncio.Queue[DispatchJob] = asyncio.Queue()
        self._limiter = AsyncLimiter(settings.tps, 1.0)  # shared by every bind
        self._sessions: set[Session] = set()
        self._states: list[LinkState] = ["down"] * settings.binds
        # the bind slots this node holds (all of them unless nodes share the carrier)
        self._wanted: set[int] = set()
        self._share = 1.0
        self._slot_tasks: dict[int, asyncio.Task[None]] = {}
        self._slot_sessions: dict[int, Session] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        metrics.connector_up.labels(self.name).set(0)

    # the dispatcher's view -----------------------------------------------------

    @property
    def state(self) -> LinkState:
        """bound (at least one bind up), connecting, or down."""
        if "bound" in self._states:
            return "bound"
        return "connecting" if "connecting" in self._states else "down"

    @property
    def binds_up(self) -> int:
        return self._states.count("bound")

    @property
    def queued(self) -> int:
        """Jobs claimed for this connector and not yet on the wire."""
        return self._queue.qsize()

    @property
    def ready(self) -> bool:
        return bool(self._sessions) and not self._stopping

    def free_capacity(self) -> int:
        return max(self.capacity - self._queue.qsize(), 0) if self.ready else 0

    def enqueue(self, job: DispatchJob) -> None:
        self._signalled = False
        self._queue.put_nowait(job)
        metrics.connector_queue.labels(self.name).set(self._queue.qsize())

    # lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Bind every slot: a connector that shares its carrier with no other node."""
        self.hold(frozenset(range(self.settings.binds)), share=1.0)

    @property
    def bind_slots(self) -> int:
        """The carrier's bind limit for this link, shared by every node."""
        return self.settings.binds

    @property
    def held(self) -> frozenset[int]:
        """Slots with a bind task still running: a bind may be open on each."""
        return frozenset(n for n, task in self._slot_tasks.items() if not task.done())

    def hold(self, slots: frozenset[int], *, share: float) -> None:
        """Keep binds up on exactly these of the carrier's bind slots, sending at ``share``
        of its TPS (a node holding k of n slots: k/n). A slot given up is unbound, not
        cut: what is in flight on it is answered or comes back as a temporary failure."""
        if self._stopping:
            return
        if slots and share != self._share:
            self._share = share
            self._limiter = AsyncLimiter(self.settings.tps * share, 1.0)
        self._wanted = set(slots)
        for n in sorted(slots - self.held):
            self._slot_tasks[n] = asyncio.create_task(
                self._keep_bound(n), name=f"connector:{self.name}:{n}"
            )
        for n in self.held - slots:
            session = self._slot_sessions.get(n)
            if session is None:  # connecting or waiting to retry: nothing to finish
                self._slot_tasks[n].cancel()
            else:
                closing = asyncio.create_task(self._unbind(session))
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    async def _unbind(self, session: Session) -> None:
        with contextlib.suppress(Exception):
            await session.unbind(timeout=2.0)

    async def stop(self, grace: float = 10.0) -> None:
        """Finish what is in flight, hand back what is queued, unbind."""
        self._stopping = True
        await self._return_queued("connector stopping")
        if self._sessions and self._in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.unbind(timeout=2.0)
        tasks = [*self._slot_tasks.values(), *self._closing]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_bound(self, n: int) -> None:
        """One of the connector's binds: connect, serve, and reconnect with backoff."""
        failures = 0
        while not self._stopping and n in self._wanted:
            self._set_state(n, "connecting")
            try:
                session = await connect(
                    self.endpoint.host,
                    self.endpoint.port,
                    _Handler(self),
                    BindTransceiver(
                        system_id=self.endpoint.system_id,
                        password=self.endpoint.password,
                        system_type=self.settings.system_type,
                    ),
                    ssl=self.ssl_context,
                    window=self.settings.window,
                    # receipts may wait briefly for their submit's record; keep reading
                    inbound_window=max(2 * self.settings.window, 20),
                    response_timeout=self.settings.response_timeout,
                    enquire_link_interval=self.settings.enquire_link_interval,
                    name=self.name,
                )
            except (OSError, TimeoutError, BindFailed, ResponseTimeout, SessionClosed) as exc:
                failures += 1
                delay = doubling_delay(0.5, failures, MAX_BACKOFF).total_seconds()
                log.warning(
                    "connector %s: bind failed (%s); retrying in %.1fs", self.name, exc, delay
                )
                self._set_state(n, "down")
                await asyncio.sleep(delay)
                continue
            failures = 0
            self._sessions.add(session)
            self._slot_sessions[n] = session
            self._set_state(n, "bound")
            log.info(
                "connector %s: bound to %s:%s", self.name, self.endpoint.host, self.endpoint.port
            )
            self.on_capacity()
            workers = [
                asyncio.create_task(self._work(session)) for _ in range(self.settings.window)
            ]
            try:
                await session.wait_closed()
            finally:
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                self._sessions.discard(session)
                self._slot_sessions.pop(n, None)
                self._set_state(n, "down")
            if not self._stopping:
                if n in self._wanted:
                    log.warning("connector %s: bind %d lost", self.name, n)
                if not self._sessions:  # the other binds take the queue while any is up
                    await self._return_queued("bind lost")

    def _set_state(self, n: int, state: LinkState) -> None:
        self._states[n] = state
        metrics.connector_up.labels(self.name).set(1 if self._sessions else 0)
        metrics.connector_binds.labels(self.name).set(self.binds_up)

    # submitting ----------------------------------------------------------------

    async def _work(self, session: Session) -> None:
        while True:
            job = await self._queue.get()
            self._in_flight += 1
            self._idle.clear()
            try:
                await self._submit(session, job)
            finally:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.set()
                queued = self._queue.qsize()
                metrics.connector_queue.labels(self.name).set(queued)
                # ask for more only at the low-water mark: one claim for many free slots
                if queued <= self.capacity // 2 and not self._signalled:
                    self._signalled = True
                    self.on_capacity()

    async def _submit(self, session: Session, job: DispatchJob) -> None:
        """Submit the parts not yet taken, and record what happened.

        Each answer is queued for the record the moment it is read, with no await
        in between, so it is written before any receipt that arrives after it.
        """
        segments = payloads(job.body, job.encoding, job.concat_ref, job.udh)
        headed = job.udh is not None or len(segments) > 1
        todo = [n for n in range(1, len(segments) + 1) if n not in job.done_parts]
        recorded: list[asyncio.Future[bool]] = []
        ton, npi = source_address(job.sender)
        # the carrier keeps retrying an unreachable handset until then, not its own default
        validity = format_smpp_time(job.valid_until)
        for number in todo:
            pdu = SubmitSm(
                source_addr_ton=ton,
                source_addr_npi=npi,
                source_addr=job.sender,
                dest_addr_ton=0x01,
                dest_addr_npi=0x01,
                destination_addr=job.recipient,
                esm_class=ESM_UDHI if headed else 0,
                validity_period=validity,
                registered_delivery=1,
                data_coding=data_coding_for(job.encoding),
                short_message=segments[number - 1],
            )
            taken = await self._submit_part(session, pdu)
            if isinstance(taken, SubmitError):
                recorded.append(self.recorder.enqueue(self._outcome(job, taken)))
                break
            recorded.append(
                self.recorder.enqueue(
                    SubmitOutcome(
                        message_id=job.message_id,
                        connector=self.name,
                        acked_parts=((number, taken),),
                        complete=number == todo[-1],
                        parts=len(segments),
                    )
                )
            )
        await asyncio.gather(*recorded)

    async def _submit_part(self, session: Session, pdu: SubmitSm) -> str | SubmitError:
        """The carrier's message id for one segment, or why it was not taken."""
        for _ in range(THROTTLE_TRIES):
            await self._limiter.acquire()
            started = time.perf_counter()
            try:
                resp = await session.request(pdu)
            except ResponseTimeout:
                metrics.submit_errors.labels(self.name, "timeout").inc()
                return SubmitError(True, "timeout", "the carrier did not answer in time")
            except SessionClosed:
                metrics.submit_errors.labels(self.name, "bind_lost").inc()
                return SubmitError(True, "bind_lost", "the connection to the carrier was lost")
            metrics.submit_latency.labels(self.name).observe(time.perf_counter() - started)
            status = resp.command_status
            if status == CommandStatus.ESME_ROK:
                return str(getattr(resp, "message_id", ""))
            name = status_name(status)
            metrics.submit_errors.labels(self.name, name).inc()
            if status == CommandStatus.ESME_RTHROTTLED:
                await asyncio.sleep(THROTTLE_PAUSE)
                continue
            return SubmitError(status in TEMPORARY, name, f"carrier answered {name}")
        return SubmitError(True, "ESME_RTHROTTLED", "carrier kept throttling")

    def _outcome(self, job: DispatchJob, error: SubmitError) -> SubmitOutcome:
        return SubmitOutcome(
            message_id=job.message_id,
            connector=self.name,
            acked_parts=(),
            complete=False,
            error=error,
            retry_at=utcnow() + retry_delay(job.attempts) if error.temporary else None,
        )

    async def _return_queued(self, why: str) -> None:
        """Jobs that never reached the wire go back to the database queue."""
        while not self._queue.empty():
            job = self._queue.get_nowait()
            await self.recorder.record(
                SubmitOutcome(
                    message_id=job.message_id,
                    connector=self.name,
                    acked_parts=(),
                    complete=False,
                    error=SubmitError(True, "not_sent", why),
                    retry_at=utcnow(),
                )
            )
        metrics.connector_queue.labels(self.name).set(0)

    # asking the carrier --------------------------------------------------------

    async def query(self, carrier_message_id: str, sender: str) -> CarrierReceipt | None:
        """The carrier's final word on a message whose receipt has not come (query_sm), as
        the receipt would have said it; None while it has none, or cannot be asked now."""
        session = next(iter(self._sessions), None)
        if session is None:
            return None
        ton, npi = source_address(sender)
        await self._limiter.acquire()  # a question counts against the carrier's rate too
        try:
            resp = await session.request(
                QuerySm(
                    message_id=carrier_message_id,
                    source_addr_ton=ton,
                    source_addr_npi=npi,
                    source_addr=sender,
                )
            )
        except (ResponseTimeout, SessionClosed):
            metrics.receipt_queries.labels(self.name, "unanswered").inc()
            return None
        if not isinstance(resp, QuerySmResp) or resp.command_status != CommandStatus.ESME_ROK:
            metrics.receipt_queries.labels(self.name, status_name(resp.command_status)).inc()
            return None
        status = _final_status(resp.message_state)
        metrics.receipt_queries.labels(self.name, status.value if status else "pending").inc()
        if status is None:
            return None
        return CarrierReceipt(
            connector=self.name,
            carrier_message_id=carrier_message_id,
            status=status,
            error_code=f"{resp.error_code:03d}",
            done_at=_final_date(resp.final_date),
        )

    # from the carrier ----------------------------------------------------------

    async def on_deliver(self, pdu: DeliverSm) -> Pdu:
        receipt = receipt_from_pdu(pdu)
        if receipt is not None:
            return await self._on_receipt(
                pdu, receipt.message_id, receipt.stat, receipt.err, receipt.done_date
            )
        return await self._on_inbound(pdu)

    async def _on_receipt(
        self, pdu: DeliverSm, carrier_id: str, stat: str, err: str, done: datetime | None
    ) -> Pdu:
        status = status_for_receipt(stat)
        if status is None:  # ENROUTE, ACCEPTD: not final, nothing to record
            return response_for(pdu)
        receipt = CarrierReceipt(
            connector=self.name,
            carrier_message_id=carrier_id,
            status=status,
            error_code=err or "",
            done_at=(done.replace(tzinfo=UTC) if done and done.tzinfo is None else done)
            or utcnow(),
        )
        try:
            matched = await self.recorder.record(receipt)
        except Exception:
            log.exception("connector %s: could not store a receipt; asking to resend", self.name)
            return response_for(pdu, CommandStatus.ESME_RX_T_APPN)
        metrics.receipts.labels(self.name, "yes" if matched else "no").inc()
        if not matched:  # stored all the same: applied once its submit is recorded
            log.info(
                "connector %s: receipt for %s came before its submit was recorded (or is not"
                " ours); kept until it is",
                self.name,
                carrier_id,
            )
        return response_for(pdu)

    async def _on_inbound(self, pdu: DeliverSm) -> Pdu:
        payload = pdu.short_message
        concat = None
        if pdu.esm_class & ESM_UDHI:
            try:
                concat, payload = split_udh(payload)
            except ValueError:
                return response_for(pdu, CommandStatus.ESME_RINVMSGLEN)
        try:
            await self.recorder.record(
                InboundMessage(
                    connector=self.name,
                    sender=pdu.source_addr,
                    recipient=pdu.destination_addr,
                    payload=payload,
                    data_coding=pdu.data_coding,
                    received_at=utcnow(),
                    concat=concat if concat is not None and concat.total > 1 else None,
                )
            )
        except Exception:
            log.exception("connector %s: could not store an MO message", self.name)
            return response_for(pdu, CommandStatus.ESME_RX_T_APPN)
        metrics.inbound_messages.labels(self.name).inc()
        return response_for(pdu)


class _Handler:
    """The session's callbacks, forwarded to the connector."""

    def __init__(self, connector: SmppConnector) -> None:
        self.connector = connector

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, DeliverSm):
            return await self.connector.on_deliver(pdu)
        return response_for(pdu, CommandStatus.ESME_RINVCMDID)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        pass


def _final_status(message_state: int) -> MessageStatus | None:
    """query_sm's message_state as a receipt's final status; UNKNOWN is no answer."""
    if message_state == MessageState.UNKNOWN:
        return None
    return status_for_receipt(STAT_BY_STATE.get(message_state, ""))


def _final_date(value: str) -> datetime:
    now = utcnow()
    try:
        return parse_smpp_time(value, now) or now
    except ValueError:
        return now
