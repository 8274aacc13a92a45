"""The M2M XML API over real HTTP against a running Jumbe, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from xml.etree.ElementTree import Element, fromstring
from xml.sax.saxutils import escape

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.faces.m2m.api import STATUS
from jumbe.services import passwords
from jumbe.services.accounts import NewAccount
from jumbe.services.errors import NotPermitted, Unauthenticated
from jumbe.settings import Settings
from jumbe.simulators.carrier import CarrierBehaviour
from tests.conftest import wait_until

QUEUE_LIMIT = 3
TYPES = ("standard", "binary_custom_origin", "standard", "data_only", "standard")
STATES = ("active", "active", "suspended", "active", "active")


def iccid(n: int, series: int) -> str:
    return f"892540140101000{series}036{n}"


STANDARD, BINARY_ORIGIN, SUSPENDED, DATA_ONLY = (iccid(n, 3) for n in range(4))
SILENT = iccid(4, 3)  # 300003000004: its device never answers, messages stay pending


def sims_csv(series: int = 3) -> str:
    """Five SIMs as above; each series has its own ICCIDs, IMSIs and numbers."""
    rows = [
        f"{iccid(n, series)},6390140100{series}{n:04d},30000{series}00{n:04d},{kind},{state}"
        for n, (kind, state) in enumerate(zip(TYPES, STATES, strict=True))
    ]
    return "iccid,imsi,msisdn,sim_type,status\n" + "\n".join(rows) + "\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sim_queue_limit": QUEUE_LIMIT})


@dataclass
class M2m:
    jumbe: Jumbe
    client: httpx.AsyncClient
    account: NewAccount

    def document(
        self,
        call: str,
        api_id: str = "42",
        account: NewAccount | None = None,
        **elements: str | None,
    ) -> str:
        """A request as the vendor documents it, authenticated as an account's M2M user.

        ``username`` and ``password`` replace the account's (None leaves one out);
        other elements follow ``authentication`` in order, None ones left out.
        """
        account = account or self.account
        fields = {"username": account.m2m_username, "password": account.m2m_password} | elements
        credentials, inner = (
            "".join(
                f"<{name}>{escape(value)}</{name}>"
                for name, value in fields.items()
                if value is not None and (name in ("username", "password")) == wanted
            )
            for wanted in (True, False)
        )
        return (
            f'<{call} version="1" api_id="{api_id}">'
            f"<authentication>{credentials}</authentication>{inner}</{call}>"
        )

    async def post(self, body: str | bytes, status: int = 200) -> Element:
        raw = body.encode() if isinstance(body, str) else body
        answer = await self.client.post(
            "/m2m/api", content=raw, headers={"Content-Type": "application/xml"}
        )
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/xml; charset=utf-8"
        return fromstring(answer.content)

    async def send(self, iccid: str | None = STANDARD, **elements: str | None) -> Element:
        elements.setdefault("message_text", "ping")
        return await self.post(self.document("send_sms", iccid=iccid, **elements))

    async def query(self, iccid: str = STANDARD, lastx: str | None = None) -> Element:
        return await self.post(self.document("query_sms_mt_details", iccid=iccid, lastx=lastx))

    async def sent(self, iccid: str = STANDARD, count: int = 20) -> list[tuple[str, str, str]]:
        """(sender, body, encoding) of the SIM's messages, newest first, from the service."""
        messages = await self.jumbe.services.device_messages.latest_sent(
            self.account.account_id, iccid, count
        )
        return [(m.sender, m.body, m.encoding) for m in messages]


@pytest.fixture
async def m2m(jumbe: Jumbe) -> AsyncIterator[M2m]:
    account = await fleet(jumbe, "Fleet")
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=10) as client:
        yield M2m(jumbe, client, account)


async def fleet(jumbe: Jumbe, name: str, series: int = 3, units: int = 100) -> NewAccount:
    account = await jumbe.services.accounts.create_account(name)
    report = await jumbe.services.sims.import_csv(account.account_id, io.StringIO(sims_csv(series)))
    assert report.rejected == 0, report.rejections
    if units:
        await jumbe.services.billing.credit(account.account_id, units, "test")
    return account


def success(answer: Element, call: str = "send_sms", api_id: str = "42") -> Element:
    assert (answer.tag, answer.attrib) == (f"{call}_response", {"api_id": api_id})
    assert [(e.tag, e.text) for e in answer][:1] == [("api_outcome", "success")]
    return answer


def failure(answer: Element, call: str = "send_sms") -> str:
    assert answer.tag == f"{call}_response"
    assert [e.tag for e in answer] == ["api_outcome", "error_description"]
    assert answer.findtext("api_outcome") == "failure"
    return answer.findtext("error_description") or ""


def sms(answer: Element) -> list[dict[str, str]]:
    success(answer, "query_sms_mt_details")
    return [{e.tag: e.text or "" for e in item} for item in answer.findall("sms")]


async def test_send_then_follow_to_delivered(m2m: M2m) -> None:
    answer = await m2m.send(message_text="let’s meet at the station", sms_uid="123abcde4567")
    assert [(e.tag, e.text) for e in success(answer)] == [("api_outcome", "success")]
    assert await m2m.sent() == [(m2m.account.short_code, "let's meet at the station", "gsm7")]
    assert await m2m.jumbe.services.billing.balance(m2m.account.account_id) == 99

    async def delivered() -> dict[str, str] | None:
        found = sms(await m2m.query())
        return found[0] if found[0]["status"] == "delivered" else None

    item = await wait_until(delivered, what="the message to be delivered")
    assert (item["sms_uid"], item["origin"], item["message_text"]) == (
        "123abcde4567",
        "api",
        "let's meet at the station",
    )
    stored = (
        await m2m.jumbe.services.device_messages.latest_sent(m2m.account.account_id, STANDARD, 1)
    )[0]
    assert item["sent_timestamp"] == f"{stored.created_at:%d/%m/%Y %H:%M:%S}"
    assert item["delivered_timestamp"] == f"{stored.status_at:%d/%m/%Y %H:%M:%S}"
    assert stored.created_at.utcoffset() == stored.status_at.utcoffset() == timedelta(0)


async def test_query_lists_the_latest_first(m2m: M2m) -> None:
    assert sms(await m2m.query(BINARY_ORIGIN)) == [{}]  # nothing yet: one empty <sms>
    await m2m.send(BINARY_ORIGIN, message_text="AAH//oB/", data_coding="binary")
    await m2m.jumbe.services.device_messages.send(
        m2m.account.account_id, iccid=BINARY_ORIGIN, text="from the portal", source="sim-portal"
    )
    await m2m.send(BINARY_ORIGIN, message_text="third", sms_uid="u3")
    latest = sms(await m2m.query(BINARY_ORIGIN))
    assert [(i["message_text"], i["sms_uid"]) for i in latest] == [("third", "u3")]
    three = sms(await m2m.query(BINARY_ORIGIN, lastx="20"))
    assert [(i["message_text"], i["origin"]) for i in three] == [
        ("third", "api"),
        ("from the portal", "portal"),
        ("AAH//oB/", "api"),  # binary comes back in base64, as it was given
    ]
    assert ["sms_uid" in i for i in three] == [True, False, False]
    assert {i["status"] for i in three} <= {"pending", "delivered"}
    for lastx in ("0", "21", "two", "-1", "١"):
        assert "lastx" in failure(await m2m.query(lastx=lastx), "query_sms_mt_details")


async def test_sms_uid_is_unique_per_account(m2m: M2m) -> None:
    success(await m2m.send(sms_uid="abc123"))
    assert "abc123" in failure(await m2m.send(message_text="again", sms_uid="abc123"))
    other = await fleet(m2m.jumbe, "Other", 4)
    document = m2m.document(
        "send_sms", account=other, iccid=iccid(0, 4), message_text="mine", sms_uid="abc123"
    )
    success(await m2m.post(document))
    for bad in ("abcdefghijklm", "abc-12", "ab c"):
        assert "sms_uid must be 1 to 12 letters and digits" in failure(await m2m.send(sms_uid=bad))
    assert [body for _sender, body, _enc in await m2m.sent()] == ["ping"]


async def test_binary_only_where_the_sim_type_takes_it(m2m: M2m) -> None:
    success(await m2m.send(BINARY_ORIGIN, message_text="AAH//oB/", data_coding="binary"))
    assert (await m2m.sent(BINARY_ORIGIN))[0][1:] == ("0001fffe807f", "binary")
    reason = failure(await m2m.send(STANDARD, message_text="AAH//oB/", data_coding="binary"))
    assert reason == "SIMs of type standard do not take binary SMS"
    too_big = "A" * 164
    assert "at most 120" in failure(
        await m2m.send(BINARY_ORIGIN, message_text=too_big, data_coding="binary")
    )
    assert "base64" in failure(
        await m2m.send(BINARY_ORIGIN, message_text="not base64!", data_coding="binary")
    )
    assert await m2m.sent(STANDARD) == []


async def test_origin_only_where_the_sim_type_allows_it(m2m: M2m) -> None:
    success(await m2m.send(BINARY_ORIGIN, origin="447890123456"))
    success(await m2m.send(STANDARD, origin="447890123456"))
    assert (await m2m.sent(BINARY_ORIGIN))[0][0] == "447890123456"
    assert (await m2m.sent(STANDARD))[0][0] == m2m.account.short_code
    assert "origin" in failure(await m2m.send(BINARY_ORIGIN, origin="not-a-number"))


async def test_only_active_sims_that_take_sms(m2m: M2m) -> None:
    reason = failure(await m2m.send(SUSPENDED))
    assert reason.lower().startswith("sms can only be delivered to active sims")
    assert failure(await m2m.send(DATA_ONLY)) == "SIMs of type data_only do not take SMS"
    assert await m2m.sent(SUSPENDED) == [] and await m2m.sent(DATA_ONLY) == []


async def test_the_operators_queue_limit_is_rejected_by_operator(m2m: M2m) -> None:
    simulator = m2m.jumbe.simulator
    assert simulator is not None
    simulator.behaviour = CarrierBehaviour(receipt_delay=0.1, silent_suffixes=("300003000004",))
    for n in range(QUEUE_LIMIT):
        success(await m2m.send(SILENT, message_text=f"m{n}"))
    assert failure(await m2m.send(SILENT, message_text="one too many")).startswith(
        "rejected by operator"
    )
    assert len(await m2m.sent(SILENT)) == QUEUE_LIMIT
    assert await m2m.jumbe.services.billing.balance(m2m.account.account_id) == 100 - QUEUE_LIMIT
    success(await m2m.send(STANDARD))  # other SIMs have their own queues


async def test_credentials_and_permissions(m2m: M2m) -> None:
    for wrong in (
        {"password": "wrong"},
        {"username": "nobody", "password": "wrong"},
        {"password": None},
        {"username": m2m.account.username},  # the owner's name with the M2M password
    ):
        answer = await m2m.post(m2m.document("send_sms", iccid=STANDARD, message_text="x", **wrong))
        assert failure(answer) == "invalid authentication credentials"
    no_auth = (
        f'<send_sms api_id="9"><iccid>{STANDARD}</iccid><message_text>x</message_text></send_sms>'
    )
    assert failure(await m2m.post(no_auth)) == "invalid authentication credentials"

    await m2m.jumbe.services.users.revoke(m2m.account.m2m_username, ["message"])
    assert failure(await m2m.send()).startswith("insufficient permissions")
    success(await m2m.query(), "query_sms_mt_details")  # view is still held
    await m2m.jumbe.services.users.revoke(m2m.account.m2m_username, ["view"])
    assert failure(await m2m.query(), "query_sms_mt_details").startswith("insufficient permissions")
    assert await m2m.sent() == []


async def test_another_accounts_sim_is_unknown(m2m: M2m) -> None:
    other = await fleet(m2m.jumbe, "Other", 4)
    foreign = iccid(0, 4)
    assert failure(await m2m.send(foreign)).startswith("unknown iccid")
    assert failure(await m2m.query(foreign), "query_sms_mt_details").startswith("unknown iccid")
    assert await m2m.jumbe.services.device_messages.latest_sent(other.account_id, foreign, 5) == []


async def test_invalid_parameters_write_nothing(m2m: M2m) -> None:
    cases = {
        "invalid content: message_text counts 161": {"message_text": "x" * 161},
        "invalid content: message_text counts 162": {"message_text": "{" * 81},
        "invalid content: characters outside the GSM": {"message_text": "Привет"},
        "missing parameter: message_text is required": {"message_text": None},
        "invalid parameter: data_coding": {"data_coding": "ucs2"},
        "iccid": {"iccid": "1234567890123456789"},
        "missing parameter: iccid is required": {"iccid": None},
    }
    for expected, elements in cases.items():
        document = m2m.document(
            "send_sms", **({"iccid": STANDARD, "message_text": "ok"} | elements)
        )
        assert expected in failure(await m2m.post(document)), expected
    twice = m2m.document("send_sms", iccid=STANDARD, message_text="a").replace(
        "</send_sms>", "<message_text>b</message_text></send_sms>"
    )
    assert "message_text is given more than once" in failure(await m2m.post(twice))
    version = m2m.document("send_sms", iccid=STANDARD, message_text="a").replace(
        'version="1"', 'version="2"'
    )
    assert "version" in failure(await m2m.post(version))
    success(await m2m.send(message_text="€" * 80))  # extension characters count two: 160
    assert len(await m2m.sent()) == 1
    assert await m2m.jumbe.services.billing.balance(m2m.account.account_id) == 99


async def test_insufficient_balance(m2m: M2m) -> None:
    poor = await fleet(m2m.jumbe, "Poor", 5, units=0)
    document = m2m.document("send_sms", account=poor, iccid=iccid(0, 5), message_text="x")
    assert "balance" in failure(await m2m.post(document)).lower()


async def test_unreadable_documents(m2m: M2m) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE send_sms [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><send_sms>&b;</send_sms>'
    )
    external = (
        '<!DOCTYPE send_sms [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<send_sms><message_text>&x;</message_text></send_sms>"
    )
    for body, status in (
        ("", 400),
        ("<send_sms>", 400),
        ("not xml", 400),
        (laughs, 400),
        (external, 400),
        ("<send_sms>" + " " * 20_000 + "</send_sms>", 413),
    ):
        answer = await m2m.post(body, status=status)
        assert answer.tag == "error_response" and answer.findtext("api_outcome") == "failure"
        assert answer.findtext("error_description")
    unknown = await m2m.post('<delete_sms api_id="5"/>', status=400)
    assert (unknown.tag, unknown.attrib) == ("error_response", {"api_id": "5"})
    assert "send_sms or query_sms_mt_details" in (unknown.findtext("error_description") or "")
    assert await m2m.sent() == []


async def test_status_words(m2m: M2m) -> None:
    """Failed, expired and cancelled keep their names; accepted and sent are pending."""
    assert {status.value: word for status, word in STATUS.items()} == {
        "accepted": "pending",
        "sent": "pending",
        "delivered": "delivered",
        "failed": "failed",
        "expired": "expired",
        "cancelled": "cancelled",
    }
    m2m.jumbe.simulator.behaviour = CarrierBehaviour(  # type: ignore[union-attr]
        receipt_delay=0.1, undeliverable_suffixes=("300003000000",)
    )
    success(await m2m.send())

    async def failed() -> bool:
        return sms(await m2m.query())[0]["status"] == "failed"

    await wait_until(failed, what="the message to fail")
    assert sms(await m2m.query())[0]["delivered_timestamp"] == ""


async def test_argon2_checks_each_password_once(m2m: M2m, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every document carries the password: argon2 runs once per right one, not per call."""
    real = passwords._hasher
    checks: list[str] = []

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            checks.append(password)
            return real.verify(stored, password)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    authenticate = m2m.jumbe.services.users.authenticate_user
    user, password = m2m.account.m2m_username, m2m.account.m2m_password
    for _ in range(3):
        assert (
            await authenticate(user, password, client="test", permission="message")
            == m2m.account.account_id
        )
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await authenticate(user, password + "x", client="test", permission="message")
    assert checks == [password, password + "x", password + "x"]
    await m2m.jumbe.services.users.revoke(user, ["message"])  # read afresh each time
    with pytest.raises(NotPermitted):
        await authenticate(user, password, client="test", permission="message")
