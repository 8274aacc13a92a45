"""The M2M document's request examples, as raw HTTP/1.1 bytes to a running Jumbe.

The documents below are the vendor's, as ``specs/m2m-iportal-send-sms.txt``
prints them, with what its flattened copy lost put back (see
``specs/README.md``): the underscores of the element names and the upper case
of the binary example's base64 (its values are 00 01 ff fe 80 7f, which is
``AAH//oB/``). The query document is the companion call the README describes.

Only the placeholders are filled in: ``username`` and ``password`` with an
account's ``m2m_username`` and ``m2m_password``, and the ICCID. The example's
``1234567890123456789`` cannot be a real ICCID (those start with 89, the
telecom prefix, and have 18 to 22 digits), so the test's SIMs carry real ones
and the example's is replaced by them, as the Daraja interop test fills in
masked digits.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, fromstring

import pytest

from jumbe.app import Jumbe
from jumbe.services.accounts import NewAccount
from tests.conftest import wait_until

# The send example, exactly as the document prints it (indentation is the document's layout).
SEND_SMS = """<send_sms version="1" api_id="123456">
    <authentication>
        <username>username</username>
        <password>password</password>
    </authentication>
    <iccid>1234567890123456789</iccid>
    <message_text>let’s meet at the station</message_text>
    <data_coding>default</data_coding>
    <origin>447890123456</origin>
    <sms_uid>123abcde4567</sms_uid>
</send_sms>"""
# The binary example's request elements, which take the place of the text ones.
BINARY_ELEMENTS = """<message_text>AAH//oB/</message_text>
    <data_coding>binary</data_coding>"""
TEXT_ELEMENTS = """<message_text>let’s meet at the station</message_text>
    <data_coding>default</data_coding>"""
QUERY = """<query_sms_mt_details version="1" api_id="123457">
    <authentication>
        <username>username</username>
        <password>password</password>
    </authentication>
    <iccid>1234567890123456789</iccid>
    <lastx>5</lastx>
</query_sms_mt_details>"""
EXAMPLE_ICCID = "1234567890123456789"

# a Manx-like SIM (chosen origin honoured), a KPN-C-like one (binary), a plain one
SIMS = """iccid,imsi,msisdn,sim_type,status
89254014010100070360,639014010007036,300000007036,custom_origin,active
89254014010100070361,639014010007037,300000007037,binary,active
89254014010100070362,639014010007038,300000007038,standard,active
"""
CUSTOM_ORIGIN, BINARY, STANDARD = (f"8925401401010007036{n}" for n in range(3))


@dataclass
class Endpoint:
    jumbe: Jumbe
    account: NewAccount

    def fill(self, document: str, iccid: str) -> bytes:
        """The example with its placeholders filled in and nothing else changed."""
        filled = (
            document.replace("<username>username<", f"<username>{self.account.m2m_username}<")
            .replace("<password>password<", f"<password>{self.account.m2m_password}<")
            .replace(f"<iccid>{EXAMPLE_ICCID}<", f"<iccid>{iccid}<")
        )
        assert filled.count(self.account.m2m_password) == 1 and EXAMPLE_ICCID not in filled
        return filled.encode("utf-8")

    async def post(self, body: bytes) -> tuple[int, dict[str, str], Element]:
        """POST the body as the document specifies it, on a raw connection."""
        address = urlsplit(self.jumbe.base_url)
        assert address.hostname is not None and address.port is not None
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        head = (
            "POST /m2m/api HTTP/1.1\r\n"
            f"Host: {address.netloc}\r\n"
            "Content-Type: application/xml\r\n"
            "Accept: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n"
            "\r\n"
        )
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
        await writer.wait_closed()
        header_block, _, content = raw.partition(b"\r\n\r\n")
        status_line, *lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        assert int(headers["content-length"]) == len(content)
        return int(status_line.split()[1]), headers, fromstring(content)


@pytest.fixture
async def endpoint(jumbe: Jumbe) -> Endpoint:
    account = await jumbe.services.accounts.create_account("Manx Fleet")
    report = await jumbe.services.sims.import_csv(account.account_id, io.StringIO(SIMS))
    assert report.rejected == 0, report.rejections
    await jumbe.services.billing.credit(account.account_id, 50, "interop")
    return Endpoint(jumbe, account)


def outcome(answer: tuple[int, dict[str, str], Element], call: str, api_id: str) -> Element:
    status, headers, root = answer
    assert status == 200
    assert headers["content-type"].split(";")[0] == "application/xml"
    assert (root.tag, root.attrib) == (f"{call}_response", {"api_id": api_id})
    return root


async def test_the_send_example(endpoint: Endpoint) -> None:
    answer = await endpoint.post(endpoint.fill(SEND_SMS, CUSTOM_ORIGIN))
    root = outcome(answer, "send_sms", "123456")
    # the documented success response, element for element
    assert [(e.tag, e.text, len(e)) for e in root] == [("api_outcome", "success", 0)]
    sent = await endpoint.jumbe.services.device_messages.latest_sent(
        endpoint.account.account_id, CUSTOM_ORIGIN, 1
    )
    assert [(m.sender, m.body, m.client_ref) for m in sent] == [
        ("447890123456", "let's meet at the station", "123abcde4567")
    ]

    # the same document again: its sms_uid is taken, a documented failure
    again = outcome(
        await endpoint.post(endpoint.fill(SEND_SMS, CUSTOM_ORIGIN)), "send_sms", "123456"
    )
    assert [e.tag for e in again] == ["api_outcome", "error_description"]
    assert again.findtext("api_outcome") == "failure"
    assert "123abcde4567" in (again.findtext("error_description") or "")


async def test_the_binary_example(endpoint: Endpoint) -> None:
    binary = SEND_SMS.replace(TEXT_ELEMENTS, BINARY_ELEMENTS)
    assert binary != SEND_SMS
    root = outcome(await endpoint.post(endpoint.fill(binary, BINARY)), "send_sms", "123456")
    assert [(e.tag, e.text) for e in root] == [("api_outcome", "success")]
    sent = await endpoint.jumbe.services.device_messages.latest_sent(
        endpoint.account.account_id, BINARY, 1
    )
    # the origin is ignored for this SIM type, as the document says
    assert [(m.body, m.encoding, m.sender) for m in sent] == [
        ("0001fffe807f", "binary", endpoint.account.short_code)
    ]
    # a SIM type without binary SMS: a documented failure
    refused = outcome(await endpoint.post(endpoint.fill(binary, STANDARD)), "send_sms", "123456")
    assert refused.findtext("api_outcome") == "failure"
    assert "binary" in (refused.findtext("error_description") or "")


async def test_the_query_example(endpoint: Endpoint) -> None:
    empty = outcome(
        await endpoint.post(endpoint.fill(QUERY, CUSTOM_ORIGIN)),
        "query_sms_mt_details",
        "123457",
    )
    assert [(e.tag, e.text, len(e)) for e in empty] == [
        ("api_outcome", "success", 0),
        ("sms", None, 0),
    ]
    outcome(await endpoint.post(endpoint.fill(SEND_SMS, CUSTOM_ORIGIN)), "send_sms", "123456")

    async def delivered() -> Element | None:
        root = outcome(
            await endpoint.post(endpoint.fill(QUERY, CUSTOM_ORIGIN)),
            "query_sms_mt_details",
            "123457",
        )
        sms = root.findall("sms")
        return sms[0] if len(sms) == 1 and sms[0].findtext("status") == "delivered" else None

    sms = await wait_until(delivered, what="the example message to be delivered")
    fields = {e.tag: e.text for e in sms}
    assert list(fields) == [
        "sent_timestamp",
        "sms_uid",
        "status",
        "delivered_timestamp",
        "origin",
        "message_text",
    ]
    sent_at, delivered_at = (
        datetime.strptime(fields[name] or "", "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC)
        for name in ("sent_timestamp", "delivered_timestamp")
    )
    assert sent_at <= delivered_at <= datetime.now(UTC)
    assert (fields["sms_uid"], fields["origin"], fields["message_text"]) == (
        "123abcde4567",
        "api",
        "let's meet at the station",
    )
