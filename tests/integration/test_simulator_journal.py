"""The simulated SMSC keeps what it owes across restarts, and answers query_sm."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator
from jumbe.smpp.constants import CommandStatus, MessageState
from jumbe.smpp.pdu import BindReceiver, BindTransmitter, QuerySm, QuerySmResp, SubmitSm
from jumbe.smpp.receipt import receipt_from_pdu
from tests.integration.test_simulator import PASSWORD, SYSTEM_ID, bind, eventually

DEVICE = "254300000003036"


def simulator(journal: Path | None, **behaviour: object) -> CarrierSimulator:
    return CarrierSimulator(
        system_id=SYSTEM_ID,
        password=PASSWORD,
        behaviour=CarrierBehaviour(**behaviour),  # type: ignore[arg-type]
        journal=journal,
    )


async def submit(session: object, destination: str, **kw: object) -> str:
    resp = await session.request(  # type: ignore[attr-defined]
        SubmitSm(destination_addr=destination, short_message=b"Habari", registered_delivery=1, **kw)
    )
    assert resp.command_status == CommandStatus.ESME_ROK
    return str(resp.message_id)


async def query(session: object, message_id: str) -> QuerySmResp:
    resp = await session.request(QuerySm(message_id=message_id))  # type: ignore[attr-defined]
    assert isinstance(resp, QuerySmResp)
    return resp


async def test_receipts_held_messages_and_mo_survive_a_restart(tmp_path: Path) -> None:
    journal = tmp_path / "simulator.db"
    first = simulator(journal, receipt_delay=0.05)
    await first.start()
    first.take_offline(DEVICE)
    first.take_offline("254300000003037", for_seconds=0.2)  # back while we are down
    sender, _ = await bind(first, BindTransmitter)  # nobody receives: everything waits
    handset = await submit(sender, "254712345678")
    held = await submit(sender, DEVICE)
    back = await submit(sender, "254300000003037")
    lapsing = await submit(sender, DEVICE, validity_period="000000000001000R")  # 1 s
    await first.inject_mo("254722000111", "20000", "Niko njiani")
    await eventually(lambda: first.stats()["receipts_scheduled"] == 0)
    await sender.unbind()
    await first.stop()

    await asyncio.sleep(1.0)  # the lapsing one's validity ends, the other device comes back
    second = simulator(journal, receipt_delay=0.05)
    await second.start()
    try:
        assert [(d.msisdn, d.held) for d in second.offline_devices()] == [(DEVICE, 1)]
        receiver, esme = await bind(second, BindReceiver)
        await esme.wait_for(4)
        receipts = {r.message_id: r.stat for r in esme.receipts()}
        assert receipts == {handset: "DELIVRD", back: "DELIVRD", lapsing: "EXPIRED"}
        mo = [p for p in esme.delivered if receipt_from_pdu(p) is None]
        assert [(p.source_addr, p.short_message) for p in mo] == [("254722000111", b"Niko njiani")]
        assert second.bring_online(DEVICE) == 1
        await esme.wait_for(5)
        assert esme.receipts()[-1].message_id == held
        await receiver.unbind()
    finally:
        await second.stop()

    # everything was taken: a third start owes nothing
    third = simulator(journal)
    await third.start()
    try:
        stats = third.stats()
        assert (
            stats["receipts_scheduled"],
            stats["messages_held"],
            stats["deliveries_queued"],
        ) == (
            0,
            0,
            0,
        )
    finally:
        await third.stop()


async def test_query_sm_answers_what_the_smsc_knows(tmp_path: Path) -> None:
    sim = simulator(
        tmp_path / "simulator.db",
        receipt_delay=0.3,
        undeliverable_suffixes=("99",),
        silent_suffixes=("77",),
    )
    await sim.start()
    try:
        sim.take_offline(DEVICE)
        session, _ = await bind(sim, BindTransmitter)
        delivered = await submit(session, "254712345600")
        failed = await submit(session, "254712345699")
        silent = await submit(session, "254712345677")
        lapsed = await submit(session, "254712345677", validity_period="000000000001000R")
        held = await submit(session, DEVICE)

        early = await query(session, delivered)
        assert (early.message_state, early.final_date) == (MessageState.ENROUTE, "")
        await asyncio.sleep(1.2)
        answers = {m: await query(session, m) for m in (delivered, failed, silent, lapsed, held)}
        assert {m: a.message_state for m, a in answers.items()} == {
            delivered: MessageState.DELIVERED,
            failed: MessageState.UNDELIVERABLE,
            silent: MessageState.ENROUTE,  # the network never said; still valid
            lapsed: MessageState.EXPIRED,  # never said, and its validity has ended
            held: MessageState.ENROUTE,  # its device is off
        }
        assert answers[failed].error_code == 1 and answers[delivered].error_code == 0
        assert answers[delivered].final_date.endswith("+")
        unknown = await session.request(QuerySm(message_id="nosuchid"))
        assert unknown.command_status == CommandStatus.ESME_RQUERYFAIL
        await session.unbind()
    finally:
        await sim.stop()


async def test_a_submit_is_acknowledged_only_once_journalled(tmp_path: Path) -> None:
    """The journal is committed before submit_sm_resp: another reader sees the message."""
    journal = tmp_path / "simulator.db"
    sim = simulator(journal, receipt_delay=60)
    await sim.start()
    try:
        session, _ = await bind(sim, BindTransmitter)
        message_id = await submit(session, "254712345678")
        with sqlite3.connect(journal) as other:
            rows = other.execute(
                "SELECT owed FROM messages WHERE message_id = ?", (message_id,)
            ).fetchall()
        assert rows == [(1,)]
        await session.unbind()
    finally:
        await sim.stop()
