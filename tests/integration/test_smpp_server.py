"""The customer SMPP server: segments, payloads, queries, cancels, times, TLS, idle clients."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from jumbe.app import Jumbe
from jumbe.core.segments import split_udh
from jumbe.settings import Settings
from jumbe.simulators.carrier import CarrierBehaviour
from jumbe.smpp.client import connect
from jumbe.smpp.constants import CommandStatus, MessageState, Tag
from jumbe.smpp.pdu import (
    BindTransceiver,
    CancelSm,
    DeliverSm,
    Pdu,
    QuerySm,
    SubmitSm,
    response_for,
    set_tlv_int,
)
from jumbe.smpp.session import Session
from jumbe.smpp.timefmt import format_smpp_time
from tests.conftest import final_status, wait_until


class Inbox:
    """An ESME handler that keeps every deliver_sm and acknowledges it."""

    def __init__(self) -> None:
        self.received: list[DeliverSm] = []

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, DeliverSm):
            self.received.append(pdu)
        return response_for(pdu)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        pass


async def bind(jumbe: Jumbe, inbox: Inbox | None = None, **kw: Any) -> Session:
    assert jumbe.demo is not None
    return await connect(
        "127.0.0.1",
        kw.pop("port", jumbe.smpp.ports[0]),
        inbox or Inbox(),
        BindTransceiver(system_id=jumbe.demo.team_code, password=jumbe.demo.api_token),
        enquire_link_interval=None,
        **kw,
    )


def submit(text: str = "hi", **fields: Any) -> SubmitSm:
    payload = text.encode() if isinstance(text, str) else text
    return SubmitSm(
        source_addr_ton=5,
        source_addr=fields.pop("source_addr", "JUMBE"),
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=fields.pop("destination_addr", "254712345678"),
        short_message=payload,
        **fields,
    )


async def test_sar_segments_are_one_message_each_with_their_header(
    jumbe: Jumbe, demo: httpx.AsyncClient
) -> None:
    session = await bind(jumbe)
    ids = []
    for seq, text in enumerate(("first part ", "second part ", "third"), start=1):
        pdu = submit(text)
        set_tlv_int(pdu, Tag.SAR_MSG_REF_NUM, 300, 2)  # a 16-bit reference
        set_tlv_int(pdu, Tag.SAR_TOTAL_SEGMENTS, 3, 1)
        set_tlv_int(pdu, Tag.SAR_SEGMENT_SEQNUM, seq, 1)
        resp = await session.request(pdu)
        assert resp.command_status == 0
        ids.append(resp.message_id)  # type: ignore[attr-defined]
    await session.unbind()
    for message_id in ids:
        assert (await final_status(demo, message_id))["status"] == "delivered"
    assert jumbe.simulator is not None
    headers = [split_udh(s.short_message)[0] for s in jumbe.simulator.submissions]
    assert [(h.reference, h.total, h.sequence) for h in headers if h] == [
        (300, 3, 1),
        (300, 3, 2),
        (300, 3, 3),
    ]


async def test_message_payload_is_split_by_jumbe(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    session = await bind(jumbe)
    pdu = submit(b"")
    pdu.tlvs[Tag.MESSAGE_PAYLOAD] = ("long text " * 40).encode()
    resp = await session.request(pdu)
    await session.unbind()
    data = (await demo.get(f"/api/v1/messages/{resp.message_id}")).json()["data"]  # type: ignore[attr-defined]
    assert data["parts"] == 3 and data["message"] == "long text " * 40


async def test_binary_and_latin1(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    session = await bind(jumbe)
    binary = await session.request(submit(b"\x00\x01\xfe\xff", data_coding=4))
    latin = await session.request(submit("Façade".encode("latin-1"), data_coding=3))
    await session.unbind()
    found = [
        (await demo.get(f"/api/v1/messages/{r.message_id}")).json()["data"]  # type: ignore[attr-defined]
        for r in (binary, latin)
    ]
    assert [(m["message"], m["encoding"]) for m in found] == [
        ("0001feff", "binary"),
        ("Façade", "ucs2"),
    ]
    assert (await final_status(demo, found[0]["uuid"]))["status"] == "delivered"
    assert jumbe.simulator is not None
    assert [s.data_coding for s in jumbe.simulator.submissions] == [4, 8]


async def test_query_and_cancel(jumbe: Jumbe) -> None:
    session = await bind(jumbe)
    later = format_smpp_time(datetime.now(UTC) + timedelta(hours=1))
    queued = await session.request(submit("tomorrow", schedule_delivery_time=later))
    message_id = queued.message_id  # type: ignore[attr-defined]
    state = await session.request(QuerySm(message_id=message_id))
    assert (state.command_status, state.message_state) == (0, MessageState.ENROUTE)  # type: ignore[attr-defined]
    cancelled = await session.request(CancelSm(message_id=message_id))
    assert cancelled.command_status == 0
    again = await session.request(QuerySm(message_id=message_id))
    assert again.message_state == MessageState.DELETED and again.final_date  # type: ignore[attr-defined]
    assert (await session.request(CancelSm(message_id=message_id))).command_status == (
        CommandStatus.ESME_RCANCELFAIL
    )
    unknown = await session.request(QuerySm(message_id="no-such-id"))
    assert unknown.command_status == CommandStatus.ESME_RINVMSGID
    await session.unbind()
    assert jumbe.demo is not None
    assert (await jumbe.services.billing.reconcile(jumbe.demo.account_id)).ok


async def test_relative_validity_and_expiry_receipt(jumbe: Jumbe) -> None:
    assert jumbe.simulator is not None
    jumbe.simulator.behaviour = CarrierBehaviour(receipt_delay=0.05, max_tps=0)  # never taken
    inbox = Inbox()
    session = await bind(jumbe, inbox)
    resp = await session.request(
        submit("short-lived", validity_period="000000000002000R", registered_delivery=1)
    )
    assert resp.command_status == 0
    await wait_until(lambda: inbox.received, within=20, what="an EXPIRED receipt")
    await session.unbind()
    assert b"stat:EXPIRED" in inbox.received[0].short_message
    assert (
        inbox.received[0].tlvs[Tag.RECEIPTED_MESSAGE_ID].rstrip(b"\0").decode() == resp.message_id
    )  # type: ignore[attr-defined]


async def test_registered_delivery_two_reports_failures_only(jumbe: Jumbe) -> None:
    assert jumbe.simulator is not None
    jumbe.simulator.behaviour = CarrierBehaviour(receipt_delay=0.05, undeliverable_suffixes=("9",))
    inbox = Inbox()
    session = await bind(jumbe, inbox)
    ok = await session.request(submit("fine", registered_delivery=2))
    bad = await session.request(
        submit("lost", registered_delivery=2, destination_addr="254712345679")
    )
    await wait_until(lambda: inbox.received, what="the failure receipt")
    await asyncio.sleep(0.5)
    await session.unbind()
    ids = [p.tlvs[Tag.RECEIPTED_MESSAGE_ID].rstrip(b"\0").decode() for p in inbox.received]
    assert ids == [bad.message_id] and ok.message_id not in ids  # type: ignore[attr-defined]
    assert b"stat:UNDELIV" in inbox.received[0].short_message


async def test_a_silent_client_is_closed_while_others_work(settings: Settings) -> None:
    # 2 s of silence: long enough that the working session's bind and submit never
    # count as silence on a loaded machine, short enough for a test
    app = Jumbe(settings.model_copy(update={"smpp_idle_timeout": 2.0}))
    await app.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", app.smpp.ports[0])
        session = await bind(app)
        assert (await session.request(submit("still here"))).command_status == 0
        farewell = await asyncio.wait_for(reader.read(), 10)  # returns at EOF: it hung up
        assert farewell == b"" or farewell[4:8] == b"\x00\x00\x00\x06"  # after an unbind
        writer.close()
        await session.unbind()
    finally:
        await app.stop()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, trustme.CA]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    for pem in cert.cert_chain_pems[1:]:
        cert_file.write_bytes(cert_file.read_bytes() + pem.bytes())
    cert.private_key_pem.write_to_path(key_file)
    return cert_file, key_file, ca


@pytest.fixture
async def tls_jumbe(
    settings: Settings, tls_files: tuple[Path, Path, trustme.CA]
) -> AsyncIterator[Jumbe]:
    cert, key, _ca = tls_files
    app = Jumbe(
        settings.model_copy(update={"smpp_tls_cert": cert, "smpp_tls_key": key, "smpp_tls_port": 0})
    )
    await app.start()
    yield app
    await app.stop()


async def test_smpp_over_tls(tls_jumbe: Jumbe, tls_files: tuple[Path, Path, trustme.CA]) -> None:
    context = ssl.create_default_context()
    tls_files[2].configure_trust(context)
    plain_port, tls_port = tls_jumbe.smpp.ports
    session = await bind(tls_jumbe, port=tls_port, ssl=context)
    assert (await session.request(submit("over TLS"))).command_status == 0
    await session.unbind()
    assert plain_port != tls_port
