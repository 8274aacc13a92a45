"""One SMPP connection, for either end of the link.

Everything the protocol demands of both the SMPP server and the upstream client lives here, so
neither can forget it: sequence numbers, outbound and inbound windows, bind-state rules,
automatic enquire_link/unbind answers, keep-alive and idle timeouts, and failing every waiter
when the connection goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import typing
from collections import deque
from enum import Enum
from typing import Literal

from jumbe.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus
from jumbe.smpp.errors import FrameLengthError, PduError, ResponseTimeout, SessionClosed
from jumbe.smpp.framing import DEFAULT_MAX_FRAME, FrameReader
from jumbe.smpp.pdu import (
    HEADER,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    Unbind,
    UnbindResp,
    decode,
    encode,
    response_for,
    response_for_id,
)

__all__ = ["BindState", "Session", "SessionHandler"]

_log = logging.getLogger(__name__)

MAX_SEQUENCE = 0x7FFFFFFF
REFUSAL_HOLD = 0.01  # seconds an SMSC stops reading after refusing a request by itself


class BindState(Enum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    CLOSED = "closed"


_BOUND_BY_BIND: dict[int, BindState] = {
    CommandId.BIND_TRANSMITTER: BindState.BOUND_TX,
    CommandId.BIND_RECEIVER: BindState.BOUND_RX,
    CommandId.BIND_TRANSCEIVER: BindState.BOUND_TRX,
}
_BINDS = (BindTransmitter, BindReceiver, BindTransceiver)
# Requests an ESME may only send over a transmitter or transceiver bind.
_TRANSMIT_ONLY = frozenset(
    {
        CommandId.SUBMIT_SM,
        CommandId.SUBMIT_MULTI,
        CommandId.DATA_SM,
        CommandId.QUERY_SM,
        CommandId.CANCEL_SM,
        CommandId.REPLACE_SM,
    }
)
# Requests an SMSC never receives: they travel SMSC -> ESME only.
_SMSC_TO_ESME_ONLY = frozenset(
    {CommandId.DELIVER_SM, CommandId.ALERT_NOTIFICATION, CommandId.OUTBIND}
)
# Requests an ESME accepts from its SMSC.
_ESME_ACCEPTS = frozenset(
    {CommandId.DELIVER_SM, CommandId.DATA_SM, CommandId.ALERT_NOTIFICATION, CommandId.OUTBIND}
)


class SessionHandler(typing.Protocol):
    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        """Answer one request; the session copies the sequence number. None sends nothing."""
        ...

    def on_close(self, session: Session, exc: BaseException | None) -> None: ...


class Session(asyncio.Protocol):
    """An SMPP connection driven by asyncio's Protocol callbacks.

    Protocol rather than streams because the SMPP server must sustain ~10k submit_sm/s: bytes
    are cut into frames straight from one bytearray and responses written in the same loop
    iteration are coalesced into a single transport write.
    """

    def __init__(
        self,
        handler: SessionHandler,
        *,
        role: Literal["esme", "smsc"],
        window: int = 10,
        inbound_window: int = 10,
        response_timeout: float = 10.0,
        enquire_link_interval: float | None = 30.0,
        idle_timeout: float | None = None,
        max_pdu_length: int = DEFAULT_MAX_FRAME,
        name: str = "",
    ) -> None:
        if role not in ("esme", "smsc"):
            raise ValueError(f"role must be 'esme' or 'smsc', not {role!r}")
        if window < 1 or inbound_window < 1:
            raise ValueError("windows must be at least 1")
        self.handler = handler
        self.role = role
        self.name = name
        self.bind_state = BindState.OPEN
        self.system_id: str | None = None
        self.peer: tuple[typing.Any, ...] | None = None
        self._window = window
        self._inbound_window = inbound_window
        self._response_timeout = response_timeout
        self._enquire_link_interval = enquire_link_interval
        self._idle_timeout = idle_timeout
        self._reader = FrameReader(max_pdu_length)
        # Sessions are built by loop.create_connection/create_server factories: a loop runs.
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        # Outbound requests: seq -> (future, expected response command_id).
        self._pending: dict[int, tuple[asyncio.Future[Pdu], int]] = {}
        self._seq = 0
        self._slots_used = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        # Inbound requests.
        self._running = 0
        self._backlog: deque[Pdu] = deque()
        self._reading_paused = False
        self._held_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._drained: asyncio.Future[None] | None = None
        self._binding = False
        self._unbinding = False
        # Lifecycle.
        self._closing = False
        self._lost = False
        self._closed_waiter: asyncio.Future[None] | None = None
        self._last_rx = 0.0
        self._timers: list[asyncio.TimerHandle] = []

    def __repr__(self) -> str:
        return f"<Session {self.name or self.peer} {self.role} {self.bind_state.value}>"

    # --- public API ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once close() was called or the connection was lost."""
        return self._closing or self._lost

    @property
    def can_transmit(self) -> bool:
        return self.bind_state in (BindState.BOUND_TX, BindState.BOUND_TRX)

    @property
    def can_receive(self) -> bool:
        return self.bind_state in (BindState.BOUND_RX, BindState.BOUND_TRX)

    async def request(self, pdu: Pdu, timeout: float | None = None) -> Pdu:  # noqa: ASYNC109
        """Send a request and return its response, whatever its command_status.

        Assigns (and writes into ``pdu``) the next sequence number. Waits for a free slot in the
        outbound window and for the transport to accept writes; ``timeout`` (default: the
        session's response_timeout) counts from the moment the request is written. A
        generic_nack answer is returned like any other response.
        """
        await self._acquire_slot()
        try:
            if self._write_paused:
                await self._wait_writable()
            return await self._send_request(pdu, timeout)
        finally:
            self._release_slot()

    def send_pdu(self, pdu: Pdu) -> None:
        """Write a PDU as is (responses, generic_nack); silently dropped once closed."""
        self._write(encode(pdu))

    async def unbind(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Unbind politely, then close whatever the peer answers (or fails to)."""
        if not self.closed and not self._unbinding:
            self._unbinding = True
            with contextlib.suppress(ResponseTimeout, SessionClosed):
                await self._send_request(Unbind(), timeout)
        self.close()
        await self.wait_closed()

    def close(self) -> None:
        """Close after writing what is already queued."""
        if self._closing or self._lost:
            return
        self._closing = True
        if self._transport is None:
            self._connection_gone(None)
            return
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, as a network failure would (used to simulate one)."""
        if self._lost:
            return
        self._closing = True
        if self._transport is None:
            self._connection_gone(None)
            return
        self._out.clear()
        self._transport.abort()

    async def wait_closed(self) -> None:
        if self._lost:
            return
        if self._closed_waiter is None:
            self._closed_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._closed_waiter)

    # --- asyncio.Protocol callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        self._last_rx = self._loop.time()
        if self._enquire_link_interval:
            self._arm(self._enquire_link_interval, self._on_keepalive_timer)
        if self._idle_timeout:
            self._arm(self._idle_timeout, self._on_idle_timer)

    def data_received(self, data: bytes) -> None:
        self._last_rx = self._loop.time()
        self._reader.feed(data)
        self._parse_frames()

    def hold_reading(self, seconds: float) -> None:
        """Read and parse nothing more from this peer for a while.

        For a peer that ignores ESME_RTHROTTLED: holding it for as long as its rate
        needs to refill means its requests are read no faster than it may send them,
        so a flood costs the server a bounded amount of work, whatever its speed.
        """
        until = self._loop.time() + seconds
        if until <= self._held_until:
            return
        self._held_until = until
        self._update_reading()
        self._loop.call_later(seconds, self._release_hold)

    def _held(self) -> bool:
        # An SMSC reads nothing past a bind until it is answered: requests a client
        # pipelines after its bind are then served, not refused for coming too early.
        if self._binding and self.role == "smsc":
            return True
        return self._loop.time() < self._held_until

    def _release_hold(self) -> None:
        if self._held() or self._closing:
            return  # a longer hold came in meanwhile; its own timer releases it
        self._parse_frames()  # what arrived before the hold
        self._update_reading()

    def _parse_frames(self) -> None:
        """Decode buffered frames while requests can start; the rest wait as bytes.

        Stopping at the first request that must wait for the inbound window keeps
        the backlog at one PDU, so a hold or a refusal takes effect at once instead
        of after everything a flooding peer managed to write has been decoded.
        """
        reader = self._reader
        while not self._closing and not self._held() and not self._backlog:
            try:
                frame = reader.next_frame()
            except FrameLengthError as exc:
                _log.warning("%r: %s, closing", self, exc)
                self.send_pdu(GenericNack(CommandStatus.ESME_RINVCMDLEN, exc.sequence_number))
                self.close()
                return
            if frame is None:
                return
            self._on_frame(frame)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection_gone(exc)

    # --- inbound -------------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        _, command_id, _, seq = HEADER.unpack_from(frame)
        if command_id & RESPONSE_BIT:
            self._on_response(frame, command_id, seq)
            return
        try:
            pdu = decode(frame)
        except PduError as exc:
            # Unknown ids get generic_nack RINVCMDID; known ones their own resp with the status.
            self.send_pdu(response_for_id(exc.command_id, exc.sequence_number, exc.command_status))
            return
        self._on_request(pdu)

    def _on_response(self, frame: bytes, command_id: int, seq: int) -> None:
        entry = self._pending.get(seq)
        if entry is None or (command_id != entry[1] and command_id != CommandId.GENERIC_NACK):
            _log.debug("%r: ignoring unexpected response 0x%08X seq %d", self, command_id, seq)
            return
        future = entry[0]
        del self._pending[seq]
        if future.done():
            return
        try:
            future.set_result(decode(frame))
        except PduError as exc:
            future.set_exception(exc)

    def _on_request(self, pdu: Pdu) -> None:
        command_id = pdu.command_id
        if command_id == CommandId.ENQUIRE_LINK:
            self.send_pdu(EnquireLinkResp(0, pdu.sequence_number))
            return
        if command_id == CommandId.UNBIND:
            self._on_unbind(pdu)
            return
        status = self._admission(command_id)
        if status:
            self.send_pdu(response_for(pdu, status))
            if self.role == "smsc":
                self.hold_reading(REFUSAL_HOLD)  # refusing costs us; a refused peer slows down
            return
        if command_id in _BOUND_BY_BIND:
            self._binding = True
        if self._running < self._inbound_window and not self._backlog:
            self._start_handler(pdu)
            return
        self._backlog.append(pdu)
        self._update_reading()

    def _admission(self, command_id: int) -> int:
        """The status refusing this request without bothering the handler, or 0 to accept it."""
        if self._unbinding:
            return CommandStatus.ESME_RINVBNDSTS
        if self.role == "esme":
            return 0 if command_id in _ESME_ACCEPTS else CommandStatus.ESME_RINVCMDID
        if command_id in _BOUND_BY_BIND:
            if self.bind_state is not BindState.OPEN or self._binding:
                return CommandStatus.ESME_RALYBND
            return 0
        state = self.bind_state
        if state is BindState.OPEN:
            return CommandStatus.ESME_RINVBNDSTS
        if command_id in _SMSC_TO_ESME_ONLY:
            return CommandStatus.ESME_RINVCMDID
        if state is BindState.BOUND_RX and command_id in _TRANSMIT_ONLY:
            return CommandStatus.ESME_RINVBNDSTS
        return 0

    def _start_handler(self, pdu: Pdu) -> None:
        self._running += 1
        task = self._loop.create_task(self._run_handler(pdu))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, pdu: Pdu) -> None:
        is_bind = pdu.command_id in _BOUND_BY_BIND
        try:
            try:
                response = await self.handler.on_request(self, pdu)
            except Exception:
                _log.exception("%r: handler failed on %s", self, type(pdu).__name__)
                response = response_for(pdu, CommandStatus.ESME_RSYSERR)
            if response is None:
                return
            response.sequence_number = pdu.sequence_number
            if (
                isinstance(pdu, _BINDS)
                and response.command_status == CommandStatus.ESME_ROK
                and response.command_id == pdu.command_id | RESPONSE_BIT
                and not self.closed
            ):
                self.bind_state = _BOUND_BY_BIND[pdu.command_id]
                self.system_id = pdu.system_id
            self.send_pdu(response)
        finally:
            self._running -= 1
            self._admit_backlog()
            if is_bind:
                self._binding = False
                self._release_hold()

    def _admit_backlog(self) -> None:
        backlog = self._backlog
        while backlog and self._running < self._inbound_window and not self._lost:
            self._start_handler(backlog.popleft())
        if backlog:
            return
        self._parse_frames()  # frames left waiting in the buffer
        self._update_reading()
        if self._running == 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _update_reading(self) -> None:
        """Read only while requests can be started and their answers written.

        A peer that floods requests without reading our responses would otherwise grow our
        write buffer without bound; windows keep well-behaved peers far from either limit.
        """
        paused = bool(self._backlog) or self._write_paused or self._held()
        if paused is self._reading_paused or self._closing or self._transport is None:
            return
        self._reading_paused = paused
        if paused:
            self._transport.pause_reading()
        else:
            self._transport.resume_reading()

    def _on_unbind(self, pdu: Pdu) -> None:
        """Answer unbind after the requests received before it, so their responses go first."""
        self._unbinding = True
        if self._running == 0 and not self._backlog:
            self._finish_unbind(pdu.sequence_number)
            return
        self._drained = self._loop.create_future()
        task = self._loop.create_task(self._unbind_when_drained(pdu.sequence_number))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unbind_when_drained(self, seq: int) -> None:
        assert self._drained is not None
        try:
            async with asyncio.timeout(self._response_timeout):
                await self._drained
        except TimeoutError:
            _log.debug("%r: unbinding with handlers still running", self)
        self._finish_unbind(seq)

    def _finish_unbind(self, seq: int) -> None:
        self.send_pdu(UnbindResp(0, seq))
        self.close()

    # --- outbound ------------------------------------------------------------------------------

    async def _acquire_slot(self) -> None:
        if self.closed or self._unbinding:
            raise SessionClosed(f"{self!r} is closed")
        if self._slots_used < self._window and not self._slot_waiters:
            self._slots_used += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            await waiter  # _release_slot hands its slot over without decrementing
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release_slot()  # handed a slot but cancelled before using it
            else:
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(waiter)
            raise

    def _release_slot(self) -> None:
        waiters = self._slot_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._slots_used -= 1

    async def _wait_writable(self) -> None:
        if self._drain_waiter is None:
            self._drain_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._drain_waiter)

    async def _send_request(self, pdu: Pdu, timeout: float | None) -> Pdu:  # noqa: ASYNC109
        if self._closing or self._lost:
            raise SessionClosed(f"{self!r} is closed")
        seq = self._seq
        pending = self._pending
        while True:
            seq = seq + 1 if seq < MAX_SEQUENCE else 1
            if seq not in pending:
                break
        self._seq = seq
        pdu.sequence_number = seq
        future: asyncio.Future[Pdu] = self._loop.create_future()
        pending[seq] = (future, pdu.command_id | RESPONSE_BIT)
        timer = self._loop.call_later(
            self._response_timeout if timeout is None else timeout, self._expire, seq
        )
        try:
            self._write(encode(pdu))
            response = await future
        finally:
            timer.cancel()
            if pending.get(seq, (None,))[0] is future:
                del pending[seq]
        if (
            isinstance(pdu, _BINDS)
            and response.command_status == CommandStatus.ESME_ROK
            and response.command_id == pdu.command_id | RESPONSE_BIT
        ):
            self.bind_state = _BOUND_BY_BIND[pdu.command_id]
            self.system_id = pdu.system_id
        return response

    def _expire(self, seq: int) -> None:
        entry = self._pending.pop(seq, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(ResponseTimeout(f"{self!r}: no response to seq {seq}"))

    def _write(self, data: bytes) -> None:
        if self._closing or self._lost:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if out and self._transport is not None and not self._lost:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    # --- timers and teardown -------------------------------------------------------------------

    def _arm(self, delay: float, callback: typing.Callable[[], None]) -> None:
        self._timers = [t for t in self._timers if not t.cancelled()]
        self._timers.append(self._loop.call_later(delay, callback))

    def _on_keepalive_timer(self) -> None:
        if self.closed:
            return
        interval = self._enquire_link_interval
        assert interval is not None
        silent_for = self._loop.time() - self._last_rx
        if silent_for < interval:
            self._arm(interval - silent_for, self._on_keepalive_timer)
            return
        task = self._loop.create_task(self._probe())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe(self) -> None:
        """enquire_link outside the window: a full window must not hide a dead peer."""
        try:
            await self._send_request(EnquireLink(), self._response_timeout)
        except ResponseTimeout:
            _log.warning("%r: no enquire_link_resp in %.1fs, closing", self, self._response_timeout)
            self.close()
            return
        except SessionClosed:
            return
        if not self.closed and self._enquire_link_interval:
            silent_for = self._loop.time() - self._last_rx
            self._arm(max(self._enquire_link_interval - silent_for, 0.0), self._on_keepalive_timer)

    def _on_idle_timer(self) -> None:
        if self.closed:
            return
        idle = self._idle_timeout
        assert idle is not None
        silent_for = self._loop.time() - self._last_rx
        if silent_for < idle:
            self._arm(idle - silent_for, self._on_idle_timer)
            return
        _log.info("%r: nothing received for %.0fs, closing", self, silent_for)
        self._seq = self._seq + 1 if self._seq < MAX_SEQUENCE else 1
        self.send_pdu(Unbind(0, self._seq))  # best effort: a silent peer will not answer
        self.close()

    def _connection_gone(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self.bind_state = BindState.CLOSED
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._out.clear()
        self._backlog.clear()
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(SessionClosed(f"{self!r}: connection lost"))
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(SessionClosed(f"{self!r}: connection lost"))
        for released in (self._drain_waiter, self._drained, self._closed_waiter):
            if released is not None and not released.done():
                released.set_result(None)
        try:
            self.handler.on_close(self, exc)
        except Exception:
            _log.exception("%r: on_close failed", self)
