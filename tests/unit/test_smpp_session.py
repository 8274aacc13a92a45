"""Session behaviour over real loopback sockets: a `serve`d SMSC and `connect`ed ESMEs."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from jumbe.smpp import (
    BindFailed,
    BindState,
    ResponseTimeout,
    Session,
    SessionClosed,
    connect,
    serve,
)
from jumbe.smpp.constants import CommandId, CommandStatus
from jumbe.smpp.pdu import (
    HEADER,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    decode,
    encode,
    response_for,
)

SYSTEM_ID = "acme"
PASSWORD = "secret"


@dataclass
class SmscState:
    """What the test SMSC saw, shared by all its sessions."""

    sessions: list[Session] = field(default_factory=list)
    calls: list[Pdu] = field(default_factory=list)
    closed: list[Session] = field(default_factory=list)
    gate: asyncio.Event | None = None
    answer: bool = True
    delays: dict[bytes, float] = field(default_factory=dict)
    fail: bool = False


class SmscHandler:
    def __init__(self, state: SmscState) -> None:
        self.state = state

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            ok = pdu.system_id == SYSTEM_ID and pdu.password == PASSWORD
            resp = response_for(pdu, 0 if ok else CommandStatus.ESME_RBINDFAIL)
            resp.system_id = "TESTSMSC"  # type: ignore[attr-defined]
            return resp
        self.state.calls.append(pdu)
        if self.state.fail:
            raise RuntimeError("handler bug")
        if self.state.gate is not None:
            await self.state.gate.wait()
        if isinstance(pdu, SubmitSm):
            await asyncio.sleep(self.state.delays.get(pdu.short_message, 0))
            if not self.state.answer:
                return None
            return SubmitSmResp(message_id="id-" + pdu.short_message.decode())
        return response_for(pdu)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        self.state.closed.append(session)


class EsmeHandler:
    def __init__(self) -> None:
        self.received: list[Pdu] = []
        self.closes = 0

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        self.received.append(pdu)
        return response_for(pdu)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        self.closes += 1


Smsc = Callable[..., Any]


@pytest.fixture
async def smsc() -> AsyncIterator[Callable[..., Any]]:
    """Factory: start a test SMSC with the given session kwargs, return (state, port)."""
    servers: list[asyncio.Server] = []
    states: list[SmscState] = []

    async def start(**session_kwargs: Any) -> tuple[SmscState, int]:
        state = SmscState()

        def factory(session: Session) -> SmscHandler:
            state.sessions.append(session)
            return SmscHandler(state)

        server = await serve(factory, "127.0.0.1", 0, **session_kwargs)
        servers.append(server)
        states.append(state)
        return state, server.sockets[0].getsockname()[1]

    yield start
    for state in states:
        if state.gate is not None:
            state.gate.set()
        for session in state.sessions:
            session.abort()
    for server in servers:
        server.close()
        await server.wait_closed()


async def bind(
    port: int,
    kind: type[BindTransmitter | BindReceiver | BindTransceiver] = BindTransceiver,
    **kw: Any,
) -> tuple[Session, EsmeHandler]:
    handler = EsmeHandler()
    session = await connect(
        "127.0.0.1", port, handler, kind(system_id=SYSTEM_ID, password=PASSWORD), **kw
    )
    return session, handler


async def unbound(port: int, **kw: Any) -> tuple[Session, EsmeHandler]:
    handler = EsmeHandler()
    loop = asyncio.get_running_loop()
    _, session = await loop.create_connection(
        lambda: Session(handler, role="esme", **kw), "127.0.0.1", port
    )
    return session, handler


async def eventually(predicate: Callable[[], bool], limit: float = 3.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling state owned by the code under test
            await asyncio.sleep(0.005)


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    header = await reader.readexactly(16)
    (length,) = struct.unpack(">I", header[:4])
    return decode(header + await reader.readexactly(length - 16))


# --- binding --------------------------------------------------------------------------------------


async def test_bind_submit_and_unbind(smsc: Smsc) -> None:
    state, port = await smsc()
    session, handler = await bind(port, BindTransmitter)
    assert session.bind_state is BindState.BOUND_TX
    assert session.can_transmit and not session.can_receive
    assert session.system_id == SYSTEM_ID
    resp = await session.request(SubmitSm(destination_addr="254712345678", short_message=b"m1"))
    assert isinstance(resp, SubmitSmResp)
    assert resp.message_id == "id-m1"
    server_session = state.sessions[0]
    assert server_session.bind_state is BindState.BOUND_TX
    assert server_session.system_id == SYSTEM_ID
    await session.unbind()
    assert session.closed
    assert handler.closes == 1
    await eventually(lambda: state.closed == [server_session])
    assert server_session.bind_state is BindState.CLOSED


async def test_bind_failure_raises_and_closes(smsc: Smsc) -> None:
    state, port = await smsc()
    with pytest.raises(BindFailed) as info:
        await connect(
            "127.0.0.1", port, EsmeHandler(), BindTransmitter(system_id=SYSTEM_ID, password="no")
        )
    assert info.value.command_status == CommandStatus.ESME_RBINDFAIL
    await eventually(lambda: len(state.closed) == 1)
    assert state.sessions[0].bind_state is BindState.CLOSED


async def test_requests_before_bind_get_rinvbndsts(smsc: Smsc) -> None:
    state, port = await smsc()
    session, _ = await unbound(port)
    for request in (SubmitSm(short_message=b"x"), QuerySm(message_id="1"), DeliverSm()):
        resp = await session.request(request)
        assert resp.command_id == request.command_id | 0x80000000
        assert resp.command_status == CommandStatus.ESME_RINVBNDSTS
    # enquire_link is allowed in any state.
    assert isinstance(await session.request(EnquireLink()), EnquireLinkResp)
    assert state.calls == []
    session.close()


async def test_second_bind_gets_ralybnd(smsc: Smsc) -> None:
    _, port = await smsc()
    session, _ = await bind(port)
    resp = await session.request(BindTransmitter(system_id=SYSTEM_ID, password=PASSWORD))
    assert resp.command_id == CommandId.BIND_TRANSMITTER_RESP
    assert resp.command_status == CommandStatus.ESME_RALYBND
    session.close()


async def test_receiver_cannot_submit(smsc: Smsc) -> None:
    state, port = await smsc()
    session, _ = await bind(port, BindReceiver)
    assert session.can_receive and not session.can_transmit
    resp = await session.request(SubmitSm(short_message=b"x"))
    assert resp.command_status == CommandStatus.ESME_RINVBNDSTS
    assert state.calls == []
    session.close()


async def test_smsc_pushes_deliver_sm_to_esme(smsc: Smsc) -> None:
    state, port = await smsc()
    session, handler = await bind(port, BindReceiver)
    server_session = state.sessions[0]
    assert server_session.can_receive
    resp = await server_session.request(DeliverSm(source_addr="2547", short_message=b"mo"))
    assert isinstance(resp, DeliverSmResp)
    assert resp.command_status == 0
    assert isinstance(handler.received[0], DeliverSm)
    assert handler.received[0].short_message == b"mo"
    session.close()


# --- windows --------------------------------------------------------------------------------------


async def test_outbound_window_is_respected(smsc: Smsc) -> None:
    state, port = await smsc(inbound_window=50)
    state.gate = asyncio.Event()
    session, _ = await bind(port, window=3)
    tasks = [
        asyncio.create_task(session.request(SubmitSm(short_message=str(i).encode())))
        for i in range(7)
    ]
    await eventually(lambda: len(state.calls) == 3)
    await asyncio.sleep(0.1)
    assert len(state.calls) == 3  # the other four wait for a slot
    state.gate.set()
    responses = await asyncio.gather(*tasks)
    assert sorted(r.message_id for r in responses) == sorted(f"id-{i}" for i in range(7))  # type: ignore[attr-defined]
    assert len(state.calls) == 7
    session.close()


async def test_responses_out_of_order(smsc: Smsc) -> None:
    state, port = await smsc()
    state.delays = {b"slow": 0.3, b"medium": 0.15, b"fast": 0.0}
    session, _ = await bind(port)
    done: list[str] = []

    async def submit(text: str) -> None:
        resp = await session.request(SubmitSm(short_message=text.encode()))
        assert resp.message_id == f"id-{text}"  # type: ignore[attr-defined]
        done.append(text)

    await asyncio.gather(submit("slow"), submit("medium"), submit("fast"))
    assert done == ["fast", "medium", "slow"]
    session.close()


async def test_inbound_window_pauses_reading(smsc: Smsc) -> None:
    state, port = await smsc(inbound_window=2)
    state.gate = asyncio.Event()
    session, _ = await bind(port, window=10)
    tasks = [
        asyncio.create_task(session.request(SubmitSm(short_message=str(i).encode())))
        for i in range(6)
    ]
    server_session = state.sessions[0]
    await eventually(lambda: len(state.calls) == 2)
    await eventually(lambda: not server_session._transport.is_reading())  # type: ignore[union-attr]
    await asyncio.sleep(0.1)
    assert len(state.calls) == 2
    state.gate.set()
    await asyncio.gather(*tasks)
    assert len(state.calls) == 6
    assert server_session._transport.is_reading()  # type: ignore[union-attr]
    session.close()


async def test_response_timeout_frees_the_slot(smsc: Smsc) -> None:
    state, port = await smsc()
    session, _ = await bind(port, window=1)
    state.answer = False
    with pytest.raises(ResponseTimeout):
        await session.request(SubmitSm(short_message=b"lost"), timeout=0.1)
    state.answer = True
    resp = await asyncio.wait_for(session.request(SubmitSm(short_message=b"ok")), 2)
    assert resp.message_id == "id-ok"  # type: ignore[attr-defined]
    session.close()


async def test_cancelled_request_frees_the_slot(smsc: Smsc) -> None:
    state, port = await smsc()
    state.gate = asyncio.Event()
    session, _ = await bind(port, window=1)
    first = asyncio.create_task(session.request(SubmitSm(short_message=b"a")))
    waiting = asyncio.create_task(session.request(SubmitSm(short_message=b"b")))
    await eventually(lambda: len(state.calls) == 1)
    waiting.cancel()
    first.cancel()
    await asyncio.gather(first, waiting, return_exceptions=True)
    state.gate.set()
    resp = await asyncio.wait_for(session.request(SubmitSm(short_message=b"c")), 2)
    assert resp.message_id == "id-c"  # type: ignore[attr-defined]
    session.close()


async def test_sequence_numbers_wrap(smsc: Smsc) -> None:
    _, port = await smsc()
    session, _ = await bind(port)
    session._seq = 0x7FFFFFFE
    seqs = []
    for _ in range(3):
        pdu = EnquireLink()
        await session.request(pdu)
        seqs.append(pdu.sequence_number)
    assert seqs == [0x7FFFFFFF, 1, 2]
    session.close()


async def test_write_backpressure_holds_requests(smsc: Smsc) -> None:
    state, port = await smsc()
    session, _ = await bind(port)
    session.pause_writing()
    task = asyncio.create_task(session.request(SubmitSm(short_message=b"held")))
    await asyncio.sleep(0.1)
    assert not task.done()
    assert state.calls == []
    session.resume_writing()
    resp = await asyncio.wait_for(task, 2)
    assert resp.message_id == "id-held"  # type: ignore[attr-defined]
    session.close()


# --- automatic answers ----------------------------------------------------------------------------


async def test_enquire_link_is_answered_by_both_roles(smsc: Smsc) -> None:
    state, port = await smsc()
    session, _ = await bind(port)
    assert isinstance(await session.request(EnquireLink()), EnquireLinkResp)
    assert isinstance(await state.sessions[0].request(EnquireLink()), EnquireLinkResp)
    assert state.calls == []
    session.close()


async def test_handler_exception_answers_rsyserr(smsc: Smsc) -> None:
    state, port = await smsc()
    state.fail = True
    session, _ = await bind(port)
    resp = await session.request(SubmitSm(short_message=b"x"))
    assert resp.command_status == CommandStatus.ESME_RSYSERR
    session.close()


async def test_unbind_answers_pending_requests_first(smsc: Smsc) -> None:
    state, port = await smsc()
    state.delays = {b"a": 0.1, b"b": 0.2}
    session, _ = await bind(port)
    tasks = [asyncio.create_task(session.request(SubmitSm(short_message=m))) for m in (b"a", b"b")]
    await eventually(lambda: len(state.calls) == 2)
    await session.unbind()
    responses = await asyncio.gather(*tasks)
    assert [r.command_status for r in responses] == [0, 0]


async def test_unknown_command_gets_generic_nack(smsc: Smsc) -> None:
    _, port = await smsc()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER.pack(16, 0x00000099, 0, 31))
    nack = await asyncio.wait_for(read_pdu(reader), 2)
    assert isinstance(nack, GenericNack)
    assert nack.command_status == CommandStatus.ESME_RINVCMDID
    assert nack.sequence_number == 31
    # The session survives an unknown command.
    writer.write(encode(EnquireLink(sequence_number=32)))
    assert isinstance(await asyncio.wait_for(read_pdu(reader), 2), EnquireLinkResp)
    writer.close()


async def test_malformed_request_gets_its_resp_with_the_error(smsc: Smsc) -> None:
    _, port = await smsc()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode(BindTransmitter(sequence_number=1, system_id=SYSTEM_ID, password=PASSWORD)))
    await read_pdu(reader)
    body = bytearray(encode(SubmitSm(sequence_number=2, short_message=b"abc")))
    body[-4] = 99  # sm_length beyond the body
    writer.write(bytes(body))
    resp = await asyncio.wait_for(read_pdu(reader), 2)
    assert isinstance(resp, SubmitSmResp)
    assert resp.command_status == CommandStatus.ESME_RINVMSGLEN
    assert resp.sequence_number == 2
    writer.close()


async def test_impossible_command_length_closes_only_that_session(smsc: Smsc) -> None:
    _, port = await smsc()
    healthy, _ = await bind(port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER.pack(8, CommandId.SUBMIT_SM, 0, 5))
    nack = await asyncio.wait_for(read_pdu(reader), 2)
    assert isinstance(nack, GenericNack)
    assert nack.command_status == CommandStatus.ESME_RINVCMDLEN
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed
    writer.close()
    resp = await healthy.request(SubmitSm(short_message=b"still-here"))
    assert resp.message_id == "id-still-here"  # type: ignore[attr-defined]
    healthy.close()


async def test_oversized_command_length_is_refused(smsc: Smsc) -> None:
    _, port = await smsc(max_pdu_length=1024)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER.pack(1025, CommandId.SUBMIT_SM, 0, 6))
    nack = await asyncio.wait_for(read_pdu(reader), 2)
    assert nack.command_status == CommandStatus.ESME_RINVCMDLEN
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


async def test_unexpected_response_is_ignored(smsc: Smsc) -> None:
    _, port = await smsc()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode(SubmitSmResp(sequence_number=999, message_id="stray")))
    writer.write(encode(EnquireLink(sequence_number=3)))
    assert isinstance(await asyncio.wait_for(read_pdu(reader), 2), EnquireLinkResp)
    writer.close()


# --- timers and connection loss -------------------------------------------------------------------


async def test_keepalive_closes_a_silent_peer_smsc_side(smsc: Smsc) -> None:
    state, port = await smsc(enquire_link_interval=0.2, response_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    probe = await asyncio.wait_for(read_pdu(reader), 2)
    assert isinstance(probe, EnquireLink)
    assert await asyncio.wait_for(reader.read(), 2) == b""  # never answered: closed
    await eventually(lambda: len(state.closed) == 1)
    writer.close()


async def test_keepalive_keeps_an_answering_peer(smsc: Smsc) -> None:
    state, port = await smsc(enquire_link_interval=0.05, response_timeout=2.0)
    session, _ = await bind(port, enquire_link_interval=None)
    await asyncio.sleep(0.4)
    assert not session.closed
    assert state.closed == []
    session.close()


async def test_keepalive_closes_a_silent_smsc_esme_side() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session, handler = await unbound(port, enquire_link_interval=0.1, response_timeout=0.1)
    await asyncio.wait_for(session.wait_closed(), 2)
    assert handler.closes == 1
    server.close()


async def test_idle_timeout_unbinds_and_closes(smsc: Smsc) -> None:
    _, port = await smsc(enquire_link_interval=None, idle_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert isinstance(await asyncio.wait_for(read_pdu(reader), 2), Unbind)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


async def test_activity_defers_idle_timeout(smsc: Smsc) -> None:
    _, port = await smsc(enquire_link_interval=None, idle_timeout=0.6)
    session, _ = await bind(port, enquire_link_interval=0.1)
    await asyncio.sleep(1.0)
    assert not session.closed
    session.close()


async def test_connection_loss_fails_outstanding_requests(smsc: Smsc) -> None:
    state, port = await smsc()
    state.gate = asyncio.Event()
    session, handler = await bind(port, window=2)
    tasks = [
        asyncio.create_task(session.request(SubmitSm(short_message=str(i).encode())))
        for i in range(4)  # two in flight, two waiting for a slot
    ]
    await eventually(lambda: len(state.calls) == 2)
    state.sessions[0].abort()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, SessionClosed) for r in results)
    assert handler.closes == 1
    assert session.bind_state is BindState.CLOSED
    with pytest.raises(SessionClosed):
        await session.request(EnquireLink())
