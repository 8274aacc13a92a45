"""A third-party client (smpplib, blocking, run in a thread) against a `serve`d SMSC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import smpplib.client
import smpplib.command
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

from jumbe.smpp import Session, serve
from jumbe.smpp.constants import CommandStatus, MessageState
from jumbe.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    response_for,
)
from jumbe.smpp.receipt import DeliveryReceipt, receipt_pdu

SYSTEM_ID = "interop"
PASSWORD = "p4ssw0rd-" + "x" * 31  # 40 characters
assert len(PASSWORD) == 40


@dataclass
class Recorded:
    submits: list[SubmitSm] = field(default_factory=list)
    deliver_statuses: list[int] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    closed: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Handler:
    """Accepts one account; answers submits, then pushes a receipt to receiving binds."""

    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            ok = pdu.system_id == SYSTEM_ID and pdu.password == PASSWORD
            resp = response_for(pdu, 0 if ok else CommandStatus.ESME_RINVPASWD)
            resp.system_id = "JUMBETEST"  # type: ignore[attr-defined]
            if ok and not isinstance(pdu, BindTransmitter):
                self._spawn(self._push(session, "welcome"))
            return resp
        if isinstance(pdu, SubmitSm):
            self.recorded.submits.append(pdu)
            message_id = f"{len(self.recorded.submits):010d}"
            if pdu.registered_delivery & 1:
                self._spawn(self._push(session, message_id))
            return SubmitSmResp(message_id=message_id)
        return response_for(pdu)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        self.recorded.closed += 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.recorded.tasks.add(task)
        task.add_done_callback(self.recorded.tasks.discard)

    async def _push(self, session: Session, message_id: str) -> None:
        # The session records the bind only once this handler has returned its answer.
        while not session.can_receive:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        pdu = receipt_pdu(
            DeliveryReceipt(message_id=message_id, submitted=1, delivered=1, stat="DELIVRD"),
            source_addr="254712345678",
            destination_addr="JUMBE",
            message_state=MessageState.DELIVERED,
        )
        resp = await session.request(pdu)
        self.recorded.deliver_statuses.append(resp.command_status)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Recorded, int]]:
    recorded = Recorded()

    def factory(session: Session) -> Handler:
        recorded.sessions.append(session)
        return Handler(recorded)

    srv = await serve(factory, "127.0.0.1", 0, enquire_link_interval=None)
    yield recorded, srv.sockets[0].getsockname()[1]
    for session in recorded.sessions:
        session.abort()
    srv.close()
    await srv.wait_closed()


def _client(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    return client


def _transmitter_session(port: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sent": []}
    client = _client(port)
    client.set_message_sent_handler(lambda pdu: out["sent"].append(pdu.message_id.decode()))
    bind_resp = client.bind_transmitter(system_id=SYSTEM_ID, password=PASSWORD)
    out["bind_system_id"] = bind_resp.system_id
    parts, coding, esm_class = smpplib.gsm.make_parts("Habari! " * 30)  # 240 chars: 2 parts
    for part in parts:
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="JUMBE",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr="254712345678",
            short_message=part,
            data_coding=coding,
            esm_class=esm_class,
        )
        client.read_once()
    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
    client.read_once()
    out["unbind"] = client.unbind().command
    client.disconnect()
    return out


def _transceiver_session(port: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sent": [], "received": []}
    client = _client(port)
    client.set_message_sent_handler(lambda pdu: out["sent"].append(pdu.message_id.decode()))
    client.set_message_received_handler(
        lambda pdu: out["received"].append(
            (pdu.receipted_message_id, pdu.message_state, pdu.short_message)
        )
    )
    client.bind_transceiver(system_id=SYSTEM_ID, password=PASSWORD)
    client.read_once()  # the welcome deliver_sm pushed after the bind
    client.send_message(
        source_addr="JUMBE",
        destination_addr="254712345678",
        short_message=b"hello",
        registered_delivery=True,
    )
    while len(out["received"]) < 2 or not out["sent"]:
        client.read_once()  # submit_sm_resp and the receipt, in either order
    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
    client.read_once()
    out["unbind"] = client.unbind().command
    client.disconnect()
    return out


def _receiver_session(port: int) -> dict[str, Any]:
    out: dict[str, Any] = {"received": []}
    client = _client(port)
    client.set_message_received_handler(lambda pdu: out["received"].append(pdu.short_message))
    client.bind_receiver(system_id=SYSTEM_ID, password=PASSWORD)
    client.read_once()
    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
    client.read_once()
    out["unbind"] = client.unbind().command
    client.disconnect()
    return out


def _wrong_password(port: int) -> int:
    client = _client(port)
    try:
        client.bind_transmitter(system_id=SYSTEM_ID, password="wrong")
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()
    return 0


async def test_transmitter(server: tuple[Recorded, int]) -> None:
    recorded, port = server
    out = await asyncio.wait_for(asyncio.to_thread(_transmitter_session, port), 20)
    assert out["bind_system_id"] == b"JUMBETEST"
    assert out["sent"] == ["0000000001", "0000000002"]
    assert out["unbind"] == "unbind_resp"
    first, second = recorded.submits
    assert first.esm_class & 0x40 and second.esm_class & 0x40  # UDH concatenation
    assert first.short_message[:3] == b"\x05\x00\x03"
    assert first.destination_addr == "254712345678"
    assert (first.dest_addr_ton, first.dest_addr_npi, first.source_addr_ton) == (1, 1, 5)
    await asyncio.wait_for(_closed(recorded, 1), 5)


async def test_transceiver(server: tuple[Recorded, int]) -> None:
    recorded, port = server
    out = await asyncio.wait_for(asyncio.to_thread(_transceiver_session, port), 20)
    assert out["sent"] == ["0000000001"]
    welcome, receipt = out["received"]
    assert welcome[0] == b"welcome"
    assert receipt[0] == b"0000000001"
    assert receipt[1] == MessageState.DELIVERED
    assert receipt[2].startswith(b"id:0000000001 sub:001 dlvrd:001")
    assert out["unbind"] == "unbind_resp"
    assert recorded.deliver_statuses == [0, 0]
    assert recorded.submits[0].registered_delivery == 1


async def test_receiver(server: tuple[Recorded, int]) -> None:
    recorded, port = server
    out = await asyncio.wait_for(asyncio.to_thread(_receiver_session, port), 20)
    assert out["received"][0].startswith(b"id:welcome")
    assert out["unbind"] == "unbind_resp"
    assert recorded.deliver_statuses == [0]


async def test_wrong_password_is_refused(server: tuple[Recorded, int]) -> None:
    _, port = server
    status = await asyncio.wait_for(asyncio.to_thread(_wrong_password, port), 20)
    assert status == CommandStatus.ESME_RINVPASWD


async def _closed(recorded: Recorded, count: int) -> None:
    while recorded.closed < count:  # noqa: ASYNC110 - polling state owned by the server
        await asyncio.sleep(0.01)
