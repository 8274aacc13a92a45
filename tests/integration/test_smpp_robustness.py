"""No client can stall or crash the SMPP server for the others.

A property-based fuzz throws random bytes, mutated PDUs, truncated frames and
impossible lengths at the live server; misbehaving clients (one that never
reads, one that never speaks, one that floods) run beside a well-behaved one.
Each test ends with the well-behaved client still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jumbe.app import Jumbe
from jumbe.smpp.constants import CommandId, CommandStatus
from jumbe.smpp.pdu import (
    BindTransceiver,
    CancelSm,
    EnquireLink,
    Pdu,
    QuerySm,
    SubmitSm,
    encode,
)
from jumbe.smpp.session import Session
from tests.conftest import wait_until
from tests.integration.test_smpp_server import Inbox, bind, submit


def valid_frames(team: str, token: str) -> list[bytes]:
    return [
        encode(BindTransceiver(system_id=team, password=token, sequence_number=1)),
        encode(
            SubmitSm(
                source_addr="JUMBE",
                destination_addr="254712345678",
                short_message=b"fz",
                sequence_number=2,
            )
        ),
        encode(EnquireLink(sequence_number=3)),
        encode(QuerySm(message_id="x", sequence_number=4)),
        encode(CancelSm(message_id="y", sequence_number=5)),
    ]


@st.composite
def hostile_stream(draw: st.DrawFn, frames: list[bytes]) -> bytes:
    """A byte stream a broken or malicious client might send after connecting."""
    chunks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["random", "mutated", "truncated", "length", "unknown"]))
        frame = draw(st.sampled_from(frames))
        if kind == "random":
            chunks.append(draw(st.binary(min_size=1, max_size=200)))
        elif kind == "mutated":
            data = bytearray(frame)
            for _ in range(draw(st.integers(1, 6))):
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
            chunks.append(bytes(data))
        elif kind == "truncated":
            chunks.append(frame[: draw(st.integers(1, len(frame) - 1))])
        elif kind == "length":
            length = draw(st.sampled_from([0, 1, 15, 0x7FFFFFFF, 0xFFFFFFFF, 70_000]))
            chunks.append(struct.pack(">I", length) + frame[4:])
        else:
            command = draw(st.integers(0, 0xFFFFFFFF))
            chunks.append(struct.pack(">IIII", 16, command, 0, 9))
    return b"".join(chunks)


async def test_fuzzed_clients_never_break_the_server(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None
    await jumbe.services.billing.credit(jumbe.demo.account_id, 100_000)
    port = jumbe.smpp.ports[0]
    frames = valid_frames(jumbe.demo.team_code, jumbe.demo.api_token)
    good = await bind(jumbe)  # bound before the storm, checked after it

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(stream=hostile_stream(frames))
    def attack(stream: bytes) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.settimeout(0.2)
            with contextlib.suppress(OSError):
                sock.sendall(stream)
                sock.recv(65536)

    await asyncio.to_thread(attack)
    assert (await good.request(EnquireLink())).command_status == 0
    assert (await good.request(submit("after the storm"))).command_status == 0
    await good.unbind()
    fresh = await bind(jumbe)
    assert (await fresh.request(submit("a new session too"))).command_status == 0
    await fresh.unbind()


def _never_reads(port: int, team: str, token: str, stop: float) -> None:
    """Binds as a transceiver, then never reads a byte: deliver_sm pile up unanswered."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(encode(BindTransceiver(system_id=team, password=token, sequence_number=1)))
        while time.monotonic() < stop:
            time.sleep(0.05)


def _floods(port: int, team: str, token: str, stop: float) -> int:
    """Submits as fast as the socket allows and never reads an answer."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(encode(BindTransceiver(system_id=team, password=token, sequence_number=1)))
        sock.settimeout(0.5)
        # receipts are owed for what gets through, to receivers that never answer
        pdu = SubmitSm(
            source_addr="",
            destination_addr="254712345678",
            short_message=b"f",
            registered_delivery=1,
        )
        while time.monotonic() < stop:
            pdu.sequence_number = sent + 2
            try:
                sock.sendall(encode(pdu))
            except (TimeoutError, OSError):
                continue  # the server stopped reading us: exactly the point
            sent += 1
    return sent


async def test_slow_silent_and_flooding_clients_do_not_stall_others(jumbe: Jumbe) -> None:
    assert jumbe.demo is not None and jumbe.simulator is not None
    bad = await jumbe.services.accounts.create_account("Unruly")
    await jumbe.services.billing.credit(bad.account_id, 1_000_000)
    port = jumbe.smpp.ports[0]

    async def twenty_submits(session: Session) -> tuple[float, list[Pdu]]:
        started = time.monotonic()
        answers = [
            await session.request(submit(f"calm {i}", registered_delivery=1)) for i in range(20)
        ]
        return time.monotonic() - started, answers

    inbox = Inbox()
    good = await bind(jumbe, inbox)
    undisturbed, _ = await twenty_submits(good)
    stop = time.monotonic() + 6
    silent = socket.create_connection(("127.0.0.1", port))
    slow = asyncio.create_task(
        asyncio.to_thread(_never_reads, port, bad.team_code, bad.api_token, stop)
    )
    flood = asyncio.create_task(
        asyncio.to_thread(_floods, port, bad.team_code, bad.api_token, stop)
    )
    try:
        await asyncio.sleep(1.0)  # let the flood and the silence build up
        disturbed, answers = await twenty_submits(good)
        await wait_until(
            lambda: len(inbox.received) == 40, within=10, what="the good client's receipts"
        )
        await good.unbind()
    finally:
        silent.close()
        await slow
        sent = await flood
    assert all(a.command_status == CommandStatus.ESME_ROK for a in answers)
    # a stall, not a speed target: the same submits, within a few times their calm pace
    assert disturbed <= max(6 * undisturbed, 1.0), (undisturbed, disturbed)
    assert sent > 50  # the flood really happened
    assert inbox.received[0].command_id == CommandId.DELIVER_SM
