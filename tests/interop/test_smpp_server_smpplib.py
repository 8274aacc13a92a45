"""Jumbe's SMPP server driven by smpplib, a client nobody here wrote.

smpplib blocks, so each scenario runs in a thread while Jumbe (HTTP, SMPP server,
dispatcher, simulated carrier) runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import smpplib.client
import smpplib.command
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

from jumbe.app import Jumbe
from jumbe.smpp.constants import CommandStatus
from tests.conftest import final_status, wait_until

RECEIPT_ID = re.compile(rb"id:(\S+)")


def smpp_port(jumbe: Jumbe) -> int:
    return jumbe.smpp.ports[0]


def credentials(jumbe: Jumbe) -> tuple[str, str]:
    assert jumbe.demo is not None
    return jumbe.demo.team_code, jumbe.demo.api_token


class Esme:
    """An smpplib client that records what it sees."""

    def __init__(self, port: int) -> None:
        self.client = smpplib.client.Client(
            "127.0.0.1", port, timeout=10, allow_unknown_opt_params=True
        )
        self.resps: list[tuple[int, str]] = []  # (command_status, message_id)
        self.delivered: list[Any] = []
        self.client.set_message_sent_handler(
            lambda pdu: self.resps.append((pdu.status, (pdu.message_id or b"").decode()))
        )
        # smpplib raises on error responses unless told otherwise; they are recorded above
        self.client.set_error_pdu_handler(lambda pdu: None)
        self.client.set_message_received_handler(lambda pdu: self.delivered.append(pdu))
        self.client.connect()

    def bind(self, mode: str, system_id: str, password: str) -> Any:
        return getattr(self.client, f"bind_{mode}")(system_id=system_id, password=password)

    def submit(self, text: str, *, to: str = "254712345678", receipt: bool = True) -> int:
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="JUMBE",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=to,
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=receipt,
            )
        return len(parts)

    def read_until(self, done: Callable[[], bool], within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("timed out reading from the SMPP server")
            self.client.read_once()

    def receipt_ids(self) -> list[str]:
        return [
            (p.receipted_message_id or RECEIPT_ID.search(p.short_message).group(1)).decode()
            for p in self.delivered
            if p.esm_class & 0x04
        ]

    def close(self) -> None:
        try:
            self.client.unbind()
        finally:
            self.client.disconnect()


def bind_status(jumbe: Jumbe, system_id: str, password: str) -> int:
    """The command_status of a transceiver bind (0 when it binds), then disconnect."""
    esme = Esme(smpp_port(jumbe))
    try:
        esme.bind("transceiver", system_id, password)
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        esme.client.disconnect()
    return 0


async def in_thread(work: Callable[[], Any]) -> Any:
    return await asyncio.wait_for(asyncio.to_thread(work), 60)


async def test_long_ucs2_message_with_receipts_matches_rest(jumbe: Jumbe) -> None:
    """The issue's acceptance scenario, end to end."""
    team, token = credentials(jumbe)
    text = "Habari yako? Karibu Jumbe 😀 " * 6  # UCS-2, three parts

    def scenario() -> Esme:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transceiver", team, token)
        parts = esme.submit(text)
        esme.read_until(lambda: len(esme.resps) == parts and len(esme.receipt_ids()) == parts)
        esme.close()
        return esme

    esme = await in_thread(scenario)
    assert [status for status, _ in esme.resps] == [0, 0, 0]
    ids = [message_id for _, message_id in esme.resps]
    assert sorted(esme.receipt_ids()) == sorted(ids)
    assert all(b"stat:DELIVRD" in p.short_message for p in esme.delivered)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=jumbe.base_url, headers=headers) as api:
        bodies = []
        for message_id in ids:
            data = (await api.get(f"/api/v1/messages/{message_id}")).json()["data"]
            assert (data["status"], data["encoding"], data["parts"]) == ("delivered", "ucs2", 1)
            bodies.append(data["message"])
    assert "".join(bodies) == text


async def test_short_gsm_and_ucs2_messages(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    team, token = credentials(jumbe)

    def scenario() -> Esme:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transmitter", team, token)
        esme.submit("Hello {world} €5", receipt=False)
        esme.submit("Привет", receipt=False)
        esme.read_until(lambda: len(esme.resps) == 2)
        esme.close()
        return esme

    esme = await in_thread(scenario)
    found = [(await demo.get(f"/api/v1/messages/{i}")).json()["data"] for _, i in esme.resps]
    assert [(m["message"], m["encoding"]) for m in found] == [
        ("Hello {world} €5", "gsm7"),
        ("Привет", "ucs2"),
    ]


async def test_separate_transmitter_and_receiver(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)

    def scenario() -> tuple[Esme, Esme]:
        receiver = Esme(smpp_port(jumbe))
        receiver.bind("receiver", team, token)
        sender = Esme(smpp_port(jumbe))
        sender.bind("transmitter", team, token)
        sender.submit("receipt goes elsewhere")
        sender.read_until(lambda: len(sender.resps) == 1)
        receiver.read_until(lambda: len(receiver.receipt_ids()) == 1)
        sender.close()
        receiver.close()
        return sender, receiver

    sender, receiver = await in_thread(scenario)
    assert receiver.receipt_ids() == [sender.resps[0][1]]


async def test_receipts_wait_for_a_receiver(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    team, token = credentials(jumbe)

    def send() -> str:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transmitter", team, token)
        esme.submit("later")
        esme.read_until(lambda: len(esme.resps) == 1)
        esme.close()
        return esme.resps[0][1]

    message_id = await in_thread(send)
    assert (await final_status(demo, message_id))["status"] == "delivered"
    await asyncio.sleep(0.5)  # nobody to hand the receipt to: it waits

    def receive() -> list[str]:
        esme = Esme(smpp_port(jumbe))
        esme.bind("receiver", team, token)
        esme.read_until(lambda: len(esme.receipt_ids()) == 1)
        esme.close()
        return esme.receipt_ids()

    assert await in_thread(receive) == [message_id]


async def test_mo_reaches_a_bound_receiver(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)
    assert jumbe.simulator is not None and jumbe.demo is not None
    text = "Jibu refu: " + "ndiyo asante sana " * 12  # long GSM-7: two segments

    def receive() -> Esme:
        esme = Esme(smpp_port(jumbe))
        esme.bind("receiver", team, token)
        esme.read_until(lambda: len(esme.delivered) == 2)
        esme.close()
        return esme

    receiving = asyncio.create_task(in_thread(receive))
    await wait_until(lambda: jumbe.smpp.receivers(), what="the receiver to bind")
    await jumbe.simulator.inject_mo("254722000111", jumbe.demo.short_code, text)
    esme = await receiving
    segments = sorted(esme.delivered, key=lambda p: p.short_message[5])
    assert all(p.source_addr == b"254722000111" for p in segments)
    assert all(p.destination_addr.decode() == jumbe.demo.short_code for p in segments)
    assert b"".join(p.short_message[6:] for p in segments).decode() == text


async def test_bad_credentials_are_refused(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)
    other = await jumbe.services.accounts.create_account("Other")
    cases = [
        (team, "jmb_wrong"),
        ("NOSUCHTEAM", token),
        (other.team_code, token),  # a real token, but not this team's
    ]

    for system_id, password in cases:
        status = await in_thread(lambda s=system_id, p=password: bind_status(jumbe, s, p))
        assert status == CommandStatus.ESME_RBINDFAIL, (system_id, status)


async def test_session_limit(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)
    assert jumbe.demo is not None
    await jumbe.services.smpp_credentials.set_smpp_limits(
        jumbe.demo.account_id, max_sessions=2, tps=None
    )

    def scenario() -> int:
        first, second, third = (
            Esme(smpp_port(jumbe)),
            Esme(smpp_port(jumbe)),
            Esme(smpp_port(jumbe)),
        )
        first.bind("transceiver", team, token)
        second.bind("transmitter", team, token)
        try:
            third.bind("receiver", team, token)
        except smpplib.exceptions.PDUError as exc:
            return int(exc.args[1])
        finally:
            for esme in (first, second):
                esme.close()
            third.client.disconnect()
        return 0

    assert await in_thread(scenario) == CommandStatus.ESME_RBINDFAIL


async def test_throttling_per_session(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)
    assert jumbe.demo is not None
    await jumbe.services.smpp_credentials.set_smpp_limits(
        jumbe.demo.account_id, max_sessions=None, tps=5
    )

    def scenario() -> list[int]:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transmitter", team, token)
        for i in range(20):
            esme.submit(f"burst {i}", receipt=False)
        esme.read_until(lambda: len(esme.resps) == 20)
        esme.close()
        return [status for status, _ in esme.resps]

    statuses = await in_thread(scenario)
    assert statuses.count(CommandStatus.ESME_RTHROTTLED) >= 10
    assert 5 <= statuses.count(0) <= 7


async def test_enquire_link_and_unbind(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)

    def scenario() -> tuple[str, str]:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transceiver", team, token)
        esme.client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=esme.client))
        answer = esme.client.read_pdu().command
        unbind = esme.client.unbind().command
        esme.client.disconnect()
        return answer, unbind

    assert await in_thread(scenario) == ("enquire_link_resp", "unbind_resp")


async def test_refusals_map_to_smpp_statuses(jumbe: Jumbe) -> None:
    team, token = credentials(jumbe)
    poor = await jumbe.services.accounts.create_account("Poor")

    def submit_one(system_id: str, password: str, **fields: Any) -> int:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transmitter", system_id, password)
        esme.client.send_message(
            **{
                "source_addr_ton": 5,
                "source_addr": "JUMBE",
                "dest_addr_ton": 1,
                "dest_addr_npi": 1,
                "destination_addr": "254712345678",
                "short_message": b"x",
                **fields,
            }
        )
        esme.read_until(lambda: len(esme.resps) == 1)
        esme.close()
        return esme.resps[0][0]

    cases = [
        ({"destination_addr": "12"}, CommandStatus.ESME_RINVDSTADR),
        ({"source_addr": "NOTMINE"}, CommandStatus.ESME_RINVSRCADR),
        ({"validity_period": "garbage"}, CommandStatus.ESME_RINVEXPIRY),
        ({"schedule_delivery_time": "991399999999000+"}, CommandStatus.ESME_RINVSCHED),
        ({"short_message": b"\xff\xfe", "data_coding": 0}, CommandStatus.ESME_RSUBMITFAIL),
    ]
    for fields, expected in cases:
        assert await in_thread(lambda f=fields: submit_one(team, token, **f)) == expected, fields
    assert (
        await in_thread(
            lambda: submit_one(poor.team_code, poor.api_token, source_addr=poor.short_code)
        )
        == CommandStatus.ESME_RSUBMITFAIL
    )


@pytest.mark.stock_smpplib
async def test_unpatched_smpplib_binds_with_the_smpp_password(
    jumbe: Jumbe, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10, item 8: smpplib as shipped cuts a token to 8 characters and cannot bind
    with it; the account's 8-character SMPP password binds, sends and gets receipts."""
    assert smpplib.command.BindTransmitter.params["password"].max == 9  # really unpatched
    assert jumbe.demo is not None
    team, token, password = jumbe.demo.team_code, jumbe.demo.api_token, jumbe.demo.smpp_password
    assert len(password) == 8

    def with_password() -> Esme:
        esme = Esme(smpp_port(jumbe))
        esme.bind("transceiver", team, password)
        esme.submit("Habari from a stock client")
        esme.read_until(lambda: len(esme.resps) == 1 and len(esme.receipt_ids()) == 1)
        esme.close()
        return esme

    caplog.set_level(logging.WARNING, logger="jumbe.faces.smpp.server")
    assert await in_thread(lambda: bind_status(jumbe, team, token)) == CommandStatus.ESME_RBINDFAIL
    refusal = next(r.getMessage() for r in caplog.records if "bind refused" in r.getMessage())
    assert "cut to 8 characters" in refusal and token[:8] not in refusal
    esme = await in_thread(with_password)
    assert esme.resps[0][0] == 0
    assert esme.receipt_ids() == [esme.resps[0][1]]
    assert password not in caplog.text
