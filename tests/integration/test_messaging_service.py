"""Sending rules, sender IDs, scoping and listing, on real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jumbe.core.status import MessageStatus
from jumbe.services import Services
from jumbe.services.accounts import NewAccount
from jumbe.services.delivery import SubmitError, SubmitOutcome
from jumbe.services.errors import (
    Conflict,
    InvalidRecipient,
    InvalidRequest,
    NotFound,
    UnknownSender,
)
from jumbe.services.messaging import SendRequest


@pytest.fixture
async def acme(services: Services) -> NewAccount:
    created = await services.accounts.create_account("Acme", sender="ACME")
    await services.billing.credit(created.account_id, 100)
    return created


@pytest.mark.parametrize(
    ("request_", "error", "words"),
    [
        (SendRequest("0712 345 678", ""), InvalidRequest, "empty"),
        (SendRequest("12345", "hi"), InvalidRecipient, "invalid phone number"),
        (SendRequest("+254712345678", "x" * 1531), InvalidRequest, "parts"),
        (
            SendRequest("+254712345678", "hi", callback_url="ftp://x"),
            InvalidRequest,
            "callback_url",
        ),
        (SendRequest("+254712345678", "hi", sender="NOPE"), UnknownSender, "not registered"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    services: Services, acme: NewAccount, request_: SendRequest, error: type, words: str
) -> None:
    with pytest.raises(error) as raised:
        await services.messaging.send(acme.account_id, request_)
    assert words in str(raised.value)
    assert await services.billing.balance(acme.account_id) == 100


async def test_number_forms_and_carrier(services: Services, acme: NewAccount) -> None:
    for typed in ("0712-345-678", "712345678", "+254 712 345 678", "254712345678"):
        m = await services.messaging.send(acme.account_id, SendRequest(typed, "hi"))
        assert m.recipient == "254712345678" and m.carrier == "safaricom"
    airtel = await services.messaging.send(acme.account_id, SendRequest("0733123456", "hi"))
    assert airtel.carrier == "airtel"


async def test_sender_by_default_name_or_uuid(services: Services, acme: NewAccount) -> None:
    default = await services.messaging.send(acme.account_id, SendRequest("0712345678", "hi"))
    assert default.sender == "ACME"
    by_code = await services.messaging.send(
        acme.account_id, SendRequest("0712345678", "hi", sender=acme.short_code)
    )
    assert by_code.sender == acme.short_code


async def test_encoding_and_parts(services: Services, acme: NewAccount) -> None:
    m = await services.messaging.send(acme.account_id, SendRequest("0712345678", "Habari 😀"))
    assert (m.encoding, m.parts, m.units) == ("ucs2", 1, 1)
    m = await services.messaging.send(acme.account_id, SendRequest("0712345678", "€" * 81))
    assert (m.encoding, m.parts) == ("gsm7", 2)


async def test_another_accounts_message_is_not_found(services: Services, acme: NewAccount) -> None:
    other = await services.accounts.create_account("Other")
    m = await services.messaging.send(acme.account_id, SendRequest("0712345678", "secret"))
    with pytest.raises(NotFound):
        await services.messaging.get(other.account_id, m.uuid)
    with pytest.raises(NotFound):
        await services.messaging.resend(other.account_id, m.uuid)
    assert (await services.messaging.list(other.account_id)).total == 0


async def test_list_pages_and_filters(services: Services, acme: NewAccount) -> None:
    for i in range(25):
        await services.messaging.send(acme.account_id, SendRequest(f"07120000{i:02d}", f"m{i}"))
    first = await services.messaging.list(acme.account_id, page=1, page_size=10)
    third = await services.messaging.list(acme.account_id, page=3, page_size=10)
    assert first.total == 25 and len(first.items) == 10 and len(third.items) == 5
    assert first.items[0].body == "m24"  # newest first
    by_phone = await services.messaging.list(acme.account_id, phone="+254712000007")
    assert [m.body for m in by_phone.items] == ["m7"]
    queued = await services.messaging.list(acme.account_id, status="queued")
    assert queued.total == 25
    assert (await services.messaging.list(acme.account_id, status="delivered")).total == 0
    with pytest.raises(InvalidRequest):
        await services.messaging.list(acme.account_id, status="lost")
    with pytest.raises(InvalidRequest):
        await services.messaging.list(acme.account_id, page_size=101)


async def test_resend_only_failed(services: Services, acme: NewAccount) -> None:
    m = await services.messaging.send(acme.account_id, SendRequest("0712345678", "again"))
    with pytest.raises(Conflict, match="queued"):
        await services.messaging.resend(acme.account_id, m.uuid)
    error = SubmitError(False, "ESME_RINVDSTADR", "carrier answered ESME_RINVDSTADR")
    await services.delivery.record([SubmitOutcome(m.id, "c1", (), complete=False, error=error)])
    again = await services.messaging.resend(acme.account_id, m.uuid)
    assert again.uuid != m.uuid and again.body == "again" and again.resent_from == m.id
    assert again.status is MessageStatus.ACCEPTED


async def test_scheduled_and_validity(services: Services, acme: NewAccount) -> None:
    now = datetime.now(UTC)
    later = await services.messaging.send(
        acme.account_id, SendRequest("0712345678", "later", deliver_at=now + timedelta(hours=2))
    )
    assert later.valid_until > now + timedelta(hours=25)
    capped = await services.messaging.send(
        acme.account_id, SendRequest("0712345678", "x", valid_until=now + timedelta(days=9))
    )
    assert capped.valid_until <= now + timedelta(hours=24, seconds=5)
    with pytest.raises(InvalidRequest):
        await services.messaging.send(
            acme.account_id,
            SendRequest(
                "0712345678",
                "x",
                deliver_at=now + timedelta(hours=3),
                valid_until=now + timedelta(hours=1),
            ),
        )


async def test_binary_and_sender_headed_segments(services: Services, acme: NewAccount) -> None:
    from jumbe.core.segments import concat_udh
    from jumbe.services.errors import MessageTooLong

    data = bytes(range(200))
    binary = await services.messaging.send(acme.account_id, SendRequest("0712345678", binary=data))
    assert (binary.encoding, binary.body, binary.parts, binary.units) == (
        "binary",
        data.hex(),
        2,
        2,
    )
    udh = concat_udh(5, 2, 1)
    part = await services.messaging.send(
        acme.account_id, SendRequest("0712345678", "x" * 153, udh=udh)
    )
    assert (part.parts, part.udh) == (1, udh.hex())
    with pytest.raises(MessageTooLong, match="holds at most 153"):
        await services.messaging.send(
            acme.account_id, SendRequest("0712345678", "x" * 154, udh=udh)
        )
    with pytest.raises(InvalidRequest, match="not both"):
        await services.messaging.send(
            acme.account_id, SendRequest("0712345678", "text", binary=b"\x01")
        )
