"""The carrier simulator driven by the SMPP library's client (and once by smpplib)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import smpplib.client
from fastapi import FastAPI

from jumbe.core.segments import Encoding, decode_text, split_udh
from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator
from jumbe.simulators.control import control_router
from jumbe.simulators.devices import device_number
from jumbe.smpp import BindFailed, Session, connect
from jumbe.smpp.constants import CommandStatus, MessageState, Tag
from jumbe.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    response_for,
    tlv_int,
)
from jumbe.smpp.receipt import DeliveryReceipt, receipt_from_pdu
from jumbe.smpp.timefmt import format_smpp_time

SYSTEM_ID = "jumbe"
PASSWORD = "s3cret-but-rather-long-password"
TOKEN = "control-token"
MESSAGE_ID = re.compile(r"^(?:[0-9a-f]{10,16}|[0-9]{10,16})$")


class Esme:
    """Client-side handler collecting whatever the simulator delivers."""

    def __init__(self) -> None:
        self.delivered: list[DeliverSm] = []
        self.arrived = asyncio.Event()

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, DeliverSm):
            self.delivered.append(pdu)
            self.arrived.set()
        return response_for(pdu)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        pass

    def receipts(self) -> list[DeliveryReceipt]:
        found = (receipt_from_pdu(p) for p in self.delivered)
        return [r for r in found if r is not None]

    async def wait_for(self, count: int, limit: float = 5.0) -> None:
        async with asyncio.timeout(limit):
            while len(self.delivered) < count:
                self.arrived.clear()
                await self.arrived.wait()


StartSim = Callable[..., Any]


async def eventually(predicate: Callable[[], bool], limit: float = 3.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling state owned by the simulator
            await asyncio.sleep(0.01)


@pytest.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    sims: list[CarrierSimulator] = []

    async def start(behaviour: CarrierBehaviour | None = None, **kwargs: Any) -> CarrierSimulator:
        sim = CarrierSimulator(
            system_id=SYSTEM_ID,
            password=PASSWORD,
            behaviour=behaviour or CarrierBehaviour(receipt_delay=0.05),
            **kwargs,
        )
        await sim.start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        await sim.stop()


BindKind = type[BindTransmitter | BindReceiver | BindTransceiver]


async def bind(
    sim: CarrierSimulator, kind: BindKind = BindTransceiver, password: str = PASSWORD
) -> tuple[Session, Esme]:
    esme = Esme()
    session = await connect(
        "127.0.0.1",
        sim.port,
        esme,
        kind(system_id=SYSTEM_ID, password=password),
        window=50,
    )
    return session, esme


async def submit(session: Session, destination: str, text: bytes = b"Hello", **kw: Any) -> Pdu:
    return await session.request(
        SubmitSm(
            source_addr="JUMBE",
            source_addr_ton=5,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=destination,
            short_message=text,
            registered_delivery=kw.pop("registered_delivery", 1),
            **kw,
        )
    )


# --- binds ----------------------------------------------------------------------------------------


async def test_bind_failures(start_sim: StartSim) -> None:
    sim = await start_sim()
    with pytest.raises(BindFailed) as info:
        await bind(sim, password="wrong")
    assert info.value.command_status == CommandStatus.ESME_RINVPASWD
    with pytest.raises(BindFailed) as info:
        await connect(
            "127.0.0.1", sim.port, Esme(), BindTransmitter(system_id="other", password=PASSWORD)
        )
    assert info.value.command_status == CommandStatus.ESME_RBINDFAIL
    assert sim.stats()["binds"] == 0


async def test_all_three_bind_types(start_sim: StartSim) -> None:
    sim = await start_sim()
    for kind in (BindTransmitter, BindReceiver, BindTransceiver):
        session, _ = await bind(sim, kind)
        await session.unbind()
    assert sim.stats()["binds"] == 3


# --- submit and receipts --------------------------------------------------------------------------


async def test_submit_then_receipt_with_the_same_id(start_sim: StartSim) -> None:
    sim = await start_sim(CarrierBehaviour(receipt_delay=0.3))
    session, esme = await bind(sim)
    started = time.monotonic()
    resp = await submit(session, "254712345678", b"Habari yako, rafiki wangu mpendwa")
    assert isinstance(resp, SubmitSmResp)
    assert resp.command_status == 0
    assert MESSAGE_ID.match(resp.message_id)
    await esme.wait_for(1)
    assert time.monotonic() - started >= 0.3
    pdu = esme.delivered[0]
    assert pdu.esm_class & 0x04
    assert (pdu.source_addr, pdu.destination_addr) == ("254712345678", "JUMBE")
    assert tlv_int(pdu, Tag.MESSAGE_STATE) == MessageState.DELIVERED
    text = pdu.short_message.decode("ascii")
    assert text.startswith(f"id:{resp.message_id} sub:001 dlvrd:001 submit date:")
    assert text.endswith("stat:DELIVRD err:000 text:Habari yako, rafiki ")
    (receipt,) = esme.receipts()
    assert receipt.message_id == resp.message_id
    assert receipt.submit_date is not None and receipt.done_date is not None
    submission = sim.submissions[-1]
    assert submission.message_id == resp.message_id
    assert submission.system_id == SYSTEM_ID
    assert submission.destination_addr == "254712345678"
    await eventually(lambda: sim.stats()["receipts_sent"] == 1)  # counted on deliver_sm_resp
    assert sim.stats()["submits"] == 1
    await session.unbind()


async def test_message_ids_are_unique(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, _ = await bind(sim)
    responses = await asyncio.gather(
        *(submit(session, "254712345678", registered_delivery=0) for _ in range(200))
    )
    ids = {r.message_id for r in responses}  # type: ignore[attr-defined]
    assert len(ids) == 200
    assert all(MESSAGE_ID.match(i) for i in ids)
    await session.unbind()


async def test_no_receipt_unless_requested(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    await submit(session, "254712345678", registered_delivery=0)
    await submit(session, "254712345679", registered_delivery=2)  # failure only: it succeeds
    await asyncio.sleep(0.3)
    assert esme.delivered == []
    await session.unbind()


async def test_outcome_suffixes(start_sim: StartSim) -> None:
    behaviour = CarrierBehaviour(
        receipt_delay=0.05,
        undeliverable_suffixes=("13",),
        expired_suffixes=("14",),
        rejected_suffixes=("15",),
        silent_suffixes=("16",),
    )
    sim = await start_sim(behaviour)
    session, esme = await bind(sim)
    rejected = await submit(session, "254700000015")
    assert rejected.command_status == CommandStatus.ESME_RINVDSTADR
    ids = {}
    for destination in ("254700000013", "254700000014", "254700000016", "254700000017"):
        resp = await submit(session, destination)
        assert resp.command_status == 0
        ids[resp.message_id] = destination  # type: ignore[attr-defined]
    await esme.wait_for(3)
    await asyncio.sleep(0.2)  # the silent one must stay silent
    outcomes = {ids[r.message_id]: (r.stat, r.err, r.delivered) for r in esme.receipts()}
    assert outcomes == {
        "254700000013": ("UNDELIV", "001", 0),
        "254700000014": ("EXPIRED", "001", 0),
        "254700000017": ("DELIVRD", "000", 1),
    }
    states = {tlv_int(p, Tag.MESSAGE_STATE) for p in esme.delivered}
    assert states == {MessageState.UNDELIVERABLE, MessageState.EXPIRED, MessageState.DELIVERED}
    assert sim.stats()["rejected"] == 1
    assert len(sim.submissions) == 4
    await session.unbind()


async def test_failure_ratio_is_repeatable_with_a_seed(start_sim: StartSim) -> None:
    sim = await start_sim(CarrierBehaviour(receipt_delay=0.01, failure_ratio=0.4, seed=1234))
    session, esme = await bind(sim)
    ids = []
    for _ in range(40):
        resp = await submit(session, "254712345678")
        ids.append(resp.message_id)  # type: ignore[attr-defined]
    await esme.wait_for(40)
    stat_by_id = {r.message_id: r.stat for r in esme.receipts()}
    draws = random.Random(1234)
    expected = ["UNDELIV" if draws.random() < 0.4 else "DELIVRD" for _ in ids]
    assert [stat_by_id[i] for i in ids] == expected
    assert 5 < expected.count("UNDELIV") < 30
    await session.unbind()


async def test_throttling_above_max_tps(start_sim: StartSim) -> None:
    sim = await start_sim(CarrierBehaviour(receipt_delay=0.05, max_tps=5))
    session, _ = await bind(sim)
    statuses = [(await submit(session, "254712345678")).command_status for _ in range(8)]
    assert statuses == [0] * 5 + [CommandStatus.ESME_RTHROTTLED] * 3
    assert sim.stats()["throttled"] == 3
    await asyncio.sleep(1.05)
    assert (await submit(session, "254712345678")).command_status == 0
    await session.unbind()


async def test_each_segment_is_its_own_submission(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    ids = []
    for seq in (1, 2):
        udh = bytes((5, 0, 3, 0x2A, 2, seq))
        resp = await submit(session, "254712345678", udh + b"part %d" % seq, esm_class=0x40)
        ids.append(resp.message_id)  # type: ignore[attr-defined]
    await esme.wait_for(2)
    assert len(set(ids)) == 2
    texts = {r.message_id: r.text for r in esme.receipts()}
    assert texts == {ids[0]: "part 1", ids[1]: "part 2"}
    await session.unbind()


async def test_ucs2_receipt_text_is_decoded(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    await submit(session, "254712345678", "Karibu sana".encode("utf-16-be"), data_coding=8)
    await esme.wait_for(1)
    assert esme.receipts()[0].text == "Karibu sana"
    await session.unbind()


async def test_receipt_goes_to_a_receiver_when_submitted_on_a_transmitter(
    start_sim: StartSim,
) -> None:
    sim = await start_sim()
    tx, tx_esme = await bind(sim, BindTransmitter)
    rx, rx_esme = await bind(sim, BindReceiver)
    resp = await submit(tx, "254712345678")
    await rx_esme.wait_for(1)
    assert rx_esme.receipts()[0].message_id == resp.message_id  # type: ignore[attr-defined]
    assert tx_esme.delivered == []
    await tx.unbind()
    await rx.unbind()


async def test_receipt_prefers_the_session_it_came_on(start_sim: StartSim) -> None:
    sim = await start_sim()
    first, first_esme = await bind(sim)
    second, second_esme = await bind(sim)
    for _ in range(5):
        await submit(second, "254712345678")
    await second_esme.wait_for(5)
    await asyncio.sleep(0.1)
    assert first_esme.delivered == []
    await first.unbind()
    await second.unbind()


async def test_receipts_wait_for_a_receiver(start_sim: StartSim) -> None:
    sim = await start_sim()
    tx, _ = await bind(sim, BindTransmitter)
    resp = await submit(tx, "254712345678")
    await asyncio.sleep(0.2)
    assert sim.stats()["deliveries_queued"] == 1
    rx, rx_esme = await bind(sim, BindReceiver)
    await rx_esme.wait_for(1)
    assert rx_esme.receipts()[0].message_id == resp.message_id  # type: ignore[attr-defined]
    await tx.unbind()
    await rx.unbind()


async def test_drop_binds_keeps_receipts_for_the_next_bind(start_sim: StartSim) -> None:
    sim = await start_sim(CarrierBehaviour(receipt_delay=0.3))
    session, esme = await bind(sim)
    ids = [(await submit(session, "254712345678")).message_id for _ in range(3)]  # type: ignore[attr-defined]
    assert await sim.drop_binds() == 1
    await asyncio.wait_for(session.wait_closed(), 2)
    await asyncio.sleep(0.5)  # the receipts fall due while nobody is bound
    assert esme.delivered == []
    assert sim.stats()["deliveries_queued"] == 3
    again, again_esme = await bind(sim)
    await again_esme.wait_for(3)
    assert sorted(r.message_id for r in again_esme.receipts()) == sorted(ids)
    assert sim.stats()["deliveries_queued"] == 0
    await again.unbind()


async def test_drop_binds_mid_delivery_loses_nothing(start_sim: StartSim) -> None:
    sim = await start_sim(CarrierBehaviour(receipt_delay=0.0))
    session, esme = await bind(sim)
    ids = {
        r.message_id  # type: ignore[attr-defined]
        for r in await asyncio.gather(*(submit(session, "254712345678") for _ in range(100)))
    }
    await sim.drop_binds()
    again, again_esme = await bind(sim)

    def seen() -> set[str]:
        return {r.message_id for r in esme.receipts() + again_esme.receipts()}

    await eventually(lambda: seen() == ids, limit=5)
    await again.unbind()


async def test_submission_log(start_sim: StartSim, tmp_path: Path) -> None:
    log = tmp_path / "sim" / "submissions.jsonl"
    sim = await start_sim(submission_log=log)
    session, _ = await bind(sim)
    resp = await submit(session, "254712345678", b"logged", esm_class=0)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["message_id"] == resp.message_id  # type: ignore[attr-defined]
    assert lines[0]["destination_addr"] == "254712345678"
    assert bytes.fromhex(lines[0]["short_message"]) == b"logged"
    assert lines[0]["esm_class"] == 0
    assert abs(lines[0]["received_at"] - time.time()) < 5
    await session.unbind()


# --- offline devices ------------------------------------------------------------------------------

DEVICE = "254300000003036"  # an IoT SIM as it appears on the wire; national 300000003036


async def test_offline_device_holds_receipts_until_it_is_back(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    view = sim.take_offline("300000003036")
    assert (view.msisdn, view.held, view.back_at) == (DEVICE, 0, None)
    held = [(await submit(session, DEVICE, b"cmd %d" % n)) for n in range(3)]
    assert all(r.command_status == 0 and MESSAGE_ID.match(r.message_id) for r in held)  # type: ignore[attr-defined]
    online = await submit(session, "254712345678", b"to a handset")
    await esme.wait_for(1)  # submitted after the held ones, and yet first back
    await asyncio.sleep(0.2)  # four receipt delays: nothing else falls due, nothing else comes
    assert [r.message_id for r in esme.receipts()] == [online.message_id]  # type: ignore[attr-defined]
    assert sim.stats()["messages_held"] == 3
    assert sim.stats()["devices_offline"] == 1
    assert [(v.msisdn, v.held) for v in sim.offline_devices()] == [(DEVICE, 3)]
    assert sim.bring_online(DEVICE) == 3
    assert sim.offline_devices() == [] and sim.stats()["messages_held"] == 0
    await esme.wait_for(4)
    released = esme.receipts()[1:]
    assert [r.message_id for r in released] == [r.message_id for r in held]  # type: ignore[attr-defined]
    assert {r.stat for r in released} == {"DELIVRD"}
    assert [r.text for r in released] == ["cmd 0", "cmd 1", "cmd 2"]
    assert sim.bring_online(DEVICE) == 0  # already back: nothing to do
    await session.unbind()


async def test_offline_for_a_while_comes_back_by_itself(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    view = sim.take_offline(f"+{DEVICE}", for_seconds=0.3)
    assert view.back_at is not None
    assert 0 < (view.back_at - datetime.now(UTC)).total_seconds() <= 0.3
    started = time.monotonic()
    resp = await submit(session, DEVICE)
    await esme.wait_for(1)
    assert time.monotonic() - started >= 0.3
    (receipt,) = esme.receipts()
    assert (receipt.message_id, receipt.stat) == (resp.message_id, "DELIVRD")  # type: ignore[attr-defined]
    assert sim.offline_devices() == []
    await session.unbind()


async def test_validity_ending_first_gives_expired(start_sim: StartSim) -> None:
    sim = await start_sim(CarrierBehaviour(receipt_delay=0.05, default_validity=0.3))
    session, esme = await bind(sim)
    sim.take_offline(DEVICE)
    later = format_smpp_time(datetime.now(UTC) + timedelta(hours=1))
    by_default = await submit(session, DEVICE, b"default")  # 0.3 s: the behaviour's default
    relative = await submit(session, DEVICE, b"relative", validity_period="000000000001000R")
    absolute = await submit(session, DEVICE, b"absolute", validity_period=later)
    await esme.wait_for(2)
    expired = esme.receipts()
    assert [(r.message_id, r.stat, r.err) for r in expired] == [
        (by_default.message_id, "EXPIRED", "001"),  # type: ignore[attr-defined]
        (relative.message_id, "EXPIRED", "001"),  # type: ignore[attr-defined]
    ]
    assert tlv_int(esme.delivered[0], Tag.MESSAGE_STATE) == MessageState.EXPIRED
    assert sim.stats()["messages_held"] == 1
    assert sim.bring_online(DEVICE) == 1  # the expired ones are gone
    await esme.wait_for(3)
    last = esme.receipts()[2]
    assert (last.message_id, last.stat) == (absolute.message_id, "DELIVRD")  # type: ignore[attr-defined]
    await session.unbind()


async def test_released_messages_follow_the_usual_rules(start_sim: StartSim) -> None:
    behaviour = CarrierBehaviour(receipt_delay=0.05, undeliverable_suffixes=("3036",))
    sim = await start_sim(behaviour)
    session, esme = await bind(sim)
    sim.take_offline(DEVICE)
    failing = await submit(session, DEVICE, b"fails")
    await submit(session, DEVICE, b"no receipt wanted", registered_delivery=0)
    await submit(session, DEVICE, b"on failure only", registered_delivery=2)
    past = format_smpp_time(datetime.now(UTC) - timedelta(minutes=1))
    gone = await submit(session, DEVICE, b"already over", validity_period=past)
    await esme.wait_for(1)  # expired at once, without waiting for the device
    assert [(r.message_id, r.stat) for r in esme.receipts()] == [(gone.message_id, "EXPIRED")]  # type: ignore[attr-defined]
    assert sim.bring_online("300000003036") == 3
    await esme.wait_for(3)
    await asyncio.sleep(0.2)  # the one that asked for no receipt stays silent
    stats = [(r.text, r.stat) for r in esme.receipts()[1:]]
    assert stats == [("fails", "UNDELIV"), ("on failure only", "UNDELIV")]
    assert esme.receipts()[1].message_id == failing.message_id  # type: ignore[attr-defined]
    await session.unbind()


async def test_malformed_validity_is_refused(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, _ = await bind(sim)
    for bad in ("garbage", "991399000000000+", "000000000000000X"):
        resp = await submit(session, "254712345678", validity_period=bad)
        assert resp.command_status == CommandStatus.ESME_RINVEXPIRY, bad
    assert sim.submissions == []
    await session.unbind()


async def test_held_receipts_survive_a_dropped_bind(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    sim.take_offline(DEVICE)
    ids = {(await submit(session, DEVICE)).message_id for _ in range(2)}  # type: ignore[attr-defined]
    await sim.drop_binds()
    await asyncio.wait_for(session.wait_closed(), 2)
    assert sim.stats()["messages_held"] == 2  # held by the SMSC, not by the session
    assert sim.bring_online(DEVICE) == 2
    await eventually(lambda: sim.stats()["deliveries_queued"] == 2)  # nobody bound yet
    again, again_esme = await bind(sim)
    await again_esme.wait_for(2)
    assert {r.message_id for r in again_esme.receipts()} == ids
    assert esme.delivered == []
    await again.unbind()


async def test_taking_a_device_offline_again_changes_its_period(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    sim.take_offline(DEVICE, for_seconds=0.2)
    await submit(session, DEVICE)
    view = sim.take_offline("300000003036")  # now until told: the 0.2 s timer is cancelled
    assert (view.held, view.back_at) == (1, None)
    await asyncio.sleep(0.4)
    assert esme.delivered == [] and sim.stats()["messages_held"] == 1
    view = sim.take_offline(DEVICE, for_seconds=0.05)  # and back soon after all
    assert view.held == 1
    await esme.wait_for(1)
    await session.unbind()


def test_device_numbers_are_international() -> None:
    assert device_number("300000003036") == DEVICE
    assert device_number(" +254300000003036 ") == DEVICE
    assert device_number("254712345678") == "254712345678"
    assert device_number("712345678") == "254712345678"
    assert device_number("0712345678") == "254712345678"
    for bad in ("", "0", "12345678", "30000000303612", "3000000030x6", "00254712345678"):
        with pytest.raises(ValueError, match="msisdn"):
            device_number(bad)


# --- MO -------------------------------------------------------------------------------------------


async def test_inject_mo_single_gsm(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim, BindReceiver)
    await sim.inject_mo("254712345678", "20880", "STOP")
    await esme.wait_for(1)
    pdu = esme.delivered[0]
    assert (pdu.source_addr, pdu.destination_addr) == ("254712345678", "20880")
    assert (pdu.data_coding, pdu.esm_class) == (0, 0)
    assert pdu.short_message == b"STOP"
    assert receipt_from_pdu(pdu) is None
    await eventually(lambda: sim.stats()["mo_sent"] == 1)
    await session.unbind()


async def test_inject_mo_long_ucs2_is_concatenated(start_sim: StartSim) -> None:
    sim = await start_sim()
    session, esme = await bind(sim)
    text = "Asante sana 😊 kwa huduma nzuri. " * 6  # UCS2, well beyond 70 code units
    await sim.inject_mo("254712345678", "20880", text)
    await esme.wait_for(1)
    first, _ = split_udh(esme.delivered[0].short_message)
    assert first is not None
    assert first.total == 3  # 198 UTF-16 code units, 67 per part
    await esme.wait_for(first.total)
    parts = {}
    for pdu in esme.delivered:
        assert pdu.data_coding == 8
        assert pdu.esm_class & 0x40
        concat, payload = split_udh(pdu.short_message)
        assert concat is not None
        parts[concat.sequence] = (concat.total, concat.reference, payload)
    totals = {total for total, _, _ in parts.values()}
    assert totals == {len(parts)}
    assert len({ref for _, ref, _ in parts.values()}) == 1
    joined = b"".join(parts[i][2] for i in sorted(parts))
    assert decode_text(joined, Encoding.UCS2) == text
    await session.unbind()


async def test_inject_mo_waits_for_a_receiver(start_sim: StartSim) -> None:
    sim = await start_sim()
    await sim.inject_mo("254712345678", "20880", "hello early")
    tx, tx_esme = await bind(sim, BindTransmitter)
    await asyncio.sleep(0.1)
    assert tx_esme.delivered == []
    rx, rx_esme = await bind(sim, BindReceiver)
    await rx_esme.wait_for(1)
    assert rx_esme.delivered[0].short_message == b"hello early"
    await tx.unbind()
    await rx.unbind()


# --- control API ----------------------------------------------------------------------------------


@pytest.fixture
async def control(start_sim: StartSim) -> AsyncIterator[tuple[CarrierSimulator, httpx.AsyncClient]]:
    sim = await start_sim()
    app = FastAPI()
    app.include_router(control_router(sim, TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sim", headers={"X-Simulator-Token": TOKEN}
    ) as client:
        yield sim, client


async def test_control_requires_the_token(
    control: tuple[CarrierSimulator, httpx.AsyncClient],
) -> None:
    _, client = control
    for headers in ({"X-Simulator-Token": "nope"}, {"X-Simulator-Token": ""}):
        resp = await client.get("/simulator/stats", headers=headers)
        assert resp.status_code == 401
        assert "detail" in resp.json()
    del client.headers["X-Simulator-Token"]
    for method, url in (
        ("GET", "/simulator/stats"),
        ("POST", "/simulator/drop-binds"),
        ("POST", "/simulator/mo"),
        ("PUT", "/simulator/behaviour"),
        ("GET", "/simulator/devices"),
        ("PUT", f"/simulator/devices/{DEVICE}"),
    ):
        resp = await client.request(method, url, json={})
        assert resp.status_code == 401, url


async def test_control_stats_and_behaviour(
    control: tuple[CarrierSimulator, httpx.AsyncClient],
) -> None:
    sim, client = control
    resp = await client.get("/simulator/stats")
    assert resp.status_code == 200
    assert {"binds", "submits", "receipts_sent", "throttled", "mo_sent", "sessions"} <= set(
        resp.json()
    )
    resp = await client.put(
        "/simulator/behaviour", json={"failure_ratio": 0.25, "rejected_suffixes": ["99"]}
    )
    assert resp.status_code == 200
    assert resp.json()["failure_ratio"] == 0.25
    assert sim.behaviour.failure_ratio == 0.25
    assert sim.behaviour.rejected_suffixes == ("99",)
    assert sim.behaviour.receipt_delay == 0.05  # untouched
    resp = await client.put("/simulator/behaviour", json={"max_tps": 50})
    assert sim.behaviour.max_tps == 50
    resp = await client.put("/simulator/behaviour", json={"max_tps": None})
    assert sim.behaviour.max_tps is None
    assert (await client.put("/simulator/behaviour", json={"bogus": 1})).status_code == 422
    assert (await client.put("/simulator/behaviour", json={"failure_ratio": 2})).status_code == 422


async def test_control_mo_and_drop_binds(
    control: tuple[CarrierSimulator, httpx.AsyncClient],
) -> None:
    sim, client = control
    session, esme = await bind(sim)
    resp = await client.post(
        "/simulator/mo", json={"from": "254712345678", "to": "20880", "text": "Ndio"}
    )
    assert resp.status_code == 202
    await esme.wait_for(1)
    assert esme.delivered[0].short_message == b"Ndio"
    resp = await client.post("/simulator/drop-binds")
    assert resp.json() == {"dropped": 1}
    await asyncio.wait_for(session.wait_closed(), 2)
    stats = (await client.get("/simulator/stats")).json()
    assert stats["sessions"] == 0


async def test_control_devices(control: tuple[CarrierSimulator, httpx.AsyncClient]) -> None:
    sim, client = control
    session, esme = await bind(sim)
    assert (await client.get("/simulator/devices")).json() == {"devices": []}
    resp = await client.put("/simulator/devices/300000003036", json={"online": False})
    assert resp.status_code == 200
    assert resp.json() == {"online": False, "msisdn": DEVICE, "held": 0, "back_at": None}
    away = await client.put(
        "/simulator/devices/+254712345678", json={"online": False, "for_seconds": 3600}
    )
    back_at = datetime.fromisoformat(away.json()["back_at"])
    assert 3590 < (back_at - datetime.now(UTC)).total_seconds() <= 3600
    resp = await submit(session, DEVICE)
    listed = (await client.get("/simulator/devices")).json()["devices"]
    assert listed == [
        {"msisdn": DEVICE, "held": 1, "back_at": None},
        {"msisdn": "254712345678", "held": 0, "back_at": away.json()["back_at"]},
    ]
    assert (await client.get("/simulator/stats")).json()["messages_held"] == 1
    back = await client.put(f"/simulator/devices/{DEVICE}", json={"online": True})
    assert back.json() == {"msisdn": DEVICE, "online": True, "released": 1}
    await esme.wait_for(1)
    assert esme.receipts()[0].message_id == resp.message_id  # type: ignore[attr-defined]
    assert len((await client.get("/simulator/devices")).json()["devices"]) == 1
    await session.unbind()


async def test_control_devices_validation(
    control: tuple[CarrierSimulator, httpx.AsyncClient],
) -> None:
    sim, client = control
    for number, reason in (
        ("12345", "must have 9 to 12 digits, got 5"),
        ("3000000030x6", "must be digits only"),
        ("2543000000030361", "must have 9 to 12 digits, got 13"),
    ):
        resp = await client.put(f"/simulator/devices/{number}", json={"online": False})
        assert resp.status_code == 400, number
        assert resp.json()["detail"].startswith("bad device number: msisdn ")
        assert reason in resp.json()["detail"]
    for body in (
        {},
        {"online": "false"},
        {"online": False, "for_seconds": 0},
        {"online": False, "for_seconds": -5},
        {"online": False, "for_seconds": "soon"},
        {"online": False, "for_seconds": 10 * 366 * 86400},
        {"online": True, "for_seconds": 60},
        {"online": False, "until": "tomorrow"},
    ):
        resp = await client.put(f"/simulator/devices/{DEVICE}", json=body)
        assert resp.status_code == 422, body
        assert resp.json()["detail"], body
    assert sim.offline_devices() == []
    resp = await client.put("/simulator/behaviour", json={"default_validity": 60})
    assert resp.json()["default_validity"] == 60 and sim.behaviour.default_validity == 60
    assert (
        await client.put("/simulator/behaviour", json={"default_validity": 0})
    ).status_code == 422


# --- a third-party client -------------------------------------------------------------------------


def _smpplib_round_trip(port: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sent": [], "received": []}
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu: out["sent"].append(pdu.message_id.decode()))
    client.set_message_received_handler(
        lambda pdu: out["received"].append(
            (pdu.receipted_message_id.decode(), pdu.message_state, pdu.short_message)
        )
    )
    client.connect()
    client.bind_transceiver(system_id=SYSTEM_ID, password="short")  # smpplib truncates to 8
    client.send_message(
        source_addr="JUMBE",
        destination_addr="254712345678",
        short_message=b"from smpplib",
        registered_delivery=True,
    )
    while not out["received"]:
        client.read_once()
    out["unbind"] = client.unbind().command
    client.disconnect()
    return out


async def test_smpplib_client() -> None:
    sim = CarrierSimulator(
        system_id=SYSTEM_ID,
        password="short",
        behaviour=CarrierBehaviour(receipt_delay=0.1),
    )
    await sim.start()
    try:
        out = await asyncio.wait_for(asyncio.to_thread(_smpplib_round_trip, sim.port), 20)
    finally:
        await sim.stop()
    (message_id,) = out["sent"]
    ((receipted, state, text),) = out["received"]
    assert receipted == message_id
    assert state == MessageState.DELIVERED
    assert text.startswith(f"id:{message_id} ".encode())
    assert out["unbind"] == "unbind_resp"
