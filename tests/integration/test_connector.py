"""The upstream SMPP connector against the simulated SMSC, over real sockets.

The database side is replaced by a recorder that keeps the facts in a list, so
each protocol behaviour (pacing, throttling, reconnecting, segments, receipts,
MO) is asserted on exactly what the connector reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jumbe.core.segments import Encoding, split_udh
from jumbe.core.status import MessageStatus
from jumbe.engine.connector import DispatchJob, SmppConnector
from jumbe.services.delivery import CarrierReceipt, InboundMessage, SubmitOutcome
from jumbe.settings import ConnectorSettings
from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator
from jumbe.smpp.timefmt import parse_smpp_time
from tests.conftest import wait_until


class ListRecorder:
    def __init__(self) -> None:
        self.facts: list[Any] = []

    def enqueue(self, fact: Any) -> asyncio.Future[bool]:
        self.facts.append(fact)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        done.set_result(True)
        return done

    async def record(self, fact: Any) -> bool:
        return await self.enqueue(fact)

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.facts if isinstance(f, kind)]


@pytest.fixture
async def simulator() -> AsyncIterator[CarrierSimulator]:
    sim = CarrierSimulator(
        system_id="jumbe", password="pw", behaviour=CarrierBehaviour(receipt_delay=0.05)
    )
    await sim.start()
    yield sim
    await sim.stop()


async def running(sim: CarrierSimulator, recorder: ListRecorder, **kw: Any) -> SmppConnector:
    settings = ConnectorSettings(name="c1", url=f"smpp://jumbe:pw@127.0.0.1:{sim.port}", **kw)
    connector = SmppConnector(settings, recorder)  # type: ignore[arg-type]
    connector.start()
    await wait_until(lambda: connector.ready, what="bind")
    return connector


def job(n: int, text: str = "hello", encoding: Encoding = Encoding.GSM7, **kw: Any) -> DispatchJob:
    return DispatchJob(
        message_id=n,
        sender="JUMBE",
        recipient=f"2547120{n:05d}",
        body=text,
        encoding=encoding,
        parts=kw.pop("parts", 1),
        concat_ref=kw.pop("concat_ref", 0),
        valid_until=datetime.now(UTC) + timedelta(hours=1),
        attempts=0,
        **kw,
    )


def completed(recorder: ListRecorder) -> set[int]:
    return {o.message_id for o in recorder.of(SubmitOutcome) if o.complete}


async def test_tps_limit_paces_submits(simulator: CarrierSimulator) -> None:
    recorder = ListRecorder()
    connector = await running(simulator, recorder, tps=10, window=5)
    try:
        for n in range(30):
            connector.enqueue(job(n))
        await wait_until(lambda: len(completed(recorder)) == 30, within=15, what="30 submits")
    finally:
        await connector.stop()
    times = sorted(s.received_at for s in simulator.submissions)
    assert times[-1] - times[0] >= 1.8  # a burst of 10, then 10 per second


async def test_throttled_submits_are_retried_not_lost(simulator: CarrierSimulator) -> None:
    simulator.behaviour = CarrierBehaviour(receipt_delay=0.05, max_tps=5)
    recorder = ListRecorder()
    connector = await running(simulator, recorder, tps=1000, window=10)
    try:
        for n in range(15):
            connector.enqueue(job(n))
        await wait_until(lambda: len(completed(recorder)) == 15, within=20, what="all sent")
    finally:
        await connector.stop()
    assert simulator.stats()["throttled"] > 0
    assert simulator.stats()["submits"] == 15


async def test_reconnects_after_a_lost_bind(simulator: CarrierSimulator) -> None:
    recorder = ListRecorder()
    connector = await running(simulator, recorder)
    try:
        assert await simulator.drop_binds() == 1
        await wait_until(lambda: simulator.stats()["binds"] == 2, within=10, what="a new bind")
        await wait_until(lambda: connector.ready, what="the connector to be ready")
        connector.enqueue(job(1))
        await wait_until(lambda: completed(recorder) == {1}, what="a submit after rebinding")
    finally:
        await connector.stop()


async def test_long_message_goes_as_udh_segments(simulator: CarrierSimulator) -> None:
    recorder = ListRecorder()
    connector = await running(simulator, recorder)
    text = "Karibu Jumbe! " * 25  # 350 GSM-7 characters: three parts
    try:
        connector.enqueue(job(7, text, parts=3, concat_ref=42))
        await wait_until(lambda: completed(recorder) == {7}, what="the last part")
    finally:
        await connector.stop()
    steps = recorder.of(SubmitOutcome)
    assert [o.acked_parts[0][0] for o in steps] == [1, 2, 3]
    assert [o.complete for o in steps] == [False, False, True]
    headers = [split_udh(s.short_message)[0] for s in simulator.submissions]
    assert [(h.reference, h.total, h.sequence) for h in headers if h] == [
        (42, 3, 1),
        (42, 3, 2),
        (42, 3, 3),
    ]


async def test_only_missing_parts_are_resent(simulator: CarrierSimulator) -> None:
    recorder = ListRecorder()
    connector = await running(simulator, recorder)
    try:
        connector.enqueue(job(8, "x" * 400, parts=3, concat_ref=9, done_parts=frozenset({1, 2})))
        await wait_until(lambda: completed(recorder) == {8}, what="the missing part")
    finally:
        await connector.stop()
    assert [split_udh(s.short_message)[0].sequence for s in simulator.submissions] == [3]  # type: ignore[union-attr]


async def test_receipts_and_rejections_become_facts(simulator: CarrierSimulator) -> None:
    simulator.behaviour = CarrierBehaviour(
        receipt_delay=0.05, undeliverable_suffixes=("1",), rejected_suffixes=("2",)
    )
    recorder = ListRecorder()
    connector = await running(simulator, recorder)
    try:
        for n in (10, 11, 12):
            connector.enqueue(job(n))
        await wait_until(lambda: len(recorder.of(CarrierReceipt)) == 2, what="two receipts")
    finally:
        await connector.stop()
    outcomes = {o.message_id: o for o in recorder.of(SubmitOutcome)}
    rejected = outcomes[12]
    assert rejected.error is not None and not rejected.error.temporary
    assert rejected.error.code == "ESME_RINVDSTADR"
    by_id = {r.carrier_message_id: r.status for r in recorder.of(CarrierReceipt)}
    assert by_id == {
        outcomes[10].acked_parts[0][1]: MessageStatus.DELIVERED,
        outcomes[11].acked_parts[0][1]: MessageStatus.FAILED,
    }


async def test_inbound_messages_become_facts(simulator: CarrierSimulator) -> None:
    recorder = ListRecorder()
    connector = await running(simulator, recorder)
    try:
        await simulator.inject_mo("254722000111", "20000", "Habari 😀 " * 20)
        await wait_until(lambda: len(recorder.of(InboundMessage)) == 3, what="three segments")
    finally:
        await connector.stop()
    segments = recorder.of(InboundMessage)
    assert {m.data_coding for m in segments} == {8}
    assert sorted(m.concat.sequence for m in segments) == [1, 2, 3]


async def test_stop_hands_queued_jobs_back(simulator: CarrierSimulator) -> None:
    simulator.behaviour = CarrierBehaviour(receipt_delay=0.05, max_tps=0)
    recorder = ListRecorder()
    connector = await running(simulator, recorder, window=1)
    for n in range(5):
        connector.enqueue(job(n))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await connector.stop(grace=0.5)
    assert time.monotonic() - started < 3
    returned = [o for o in recorder.of(SubmitOutcome) if o.error and o.error.code == "not_sent"]
    assert len(returned) >= 4 and all(o.error.temporary for o in returned)


async def test_every_part_carries_the_validity_period(simulator: CarrierSimulator) -> None:
    """The carrier must keep retrying an offline device until the message's own end, not its
    default: each segment carries valid_until as an absolute SMPP time in UTC."""
    recorder = ListRecorder()
    connector = await running(simulator, recorder)
    eat = timezone(timedelta(hours=3))
    valid_until = (datetime.now(eat) + timedelta(hours=72)).replace(microsecond=734_512)
    try:
        connector.enqueue(replace(job(9, "y" * 200, parts=2), valid_until=valid_until))
        await wait_until(lambda: completed(recorder) == {9}, what="both parts")
    finally:
        await connector.stop()
    in_utc = valid_until.astimezone(UTC)
    expected = f"{in_utc:%y%m%d%H%M%S}700+"  # tenths of a second, quarter-hours from UTC: 00
    assert [s.validity_period for s in simulator.submissions] == [expected, expected]
    parsed = parse_smpp_time(expected, datetime.now(UTC))
    assert parsed == in_utc.replace(microsecond=700_000)
