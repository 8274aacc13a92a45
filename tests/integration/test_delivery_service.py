"""The status pipeline after acceptance, driven with the facts connectors report."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from jumbe.core.segments import Concat
from jumbe.core.status import MessageStatus
from jumbe.services import Services
from jumbe.services.delivery import (
    UNMATCHED_TTL,
    CarrierReceipt,
    InboundMessage,
    SubmitError,
    SubmitOutcome,
)
from jumbe.services.errors import Conflict
from jumbe.services.messaging import SendRequest
from jumbe.services.views import MessageView
from jumbe.store import queue
from jumbe.store.database import Database
from jumbe.store.schema import messages, notifications, unmatched_receipts

NOW = datetime.now(UTC)


@pytest.fixture
async def account(services: Services) -> int:
    created = await services.accounts.create_account("Acme")
    await services.billing.credit(created.account_id, 100)
    return created.account_id


async def send(services: Services, account: int, text: str = "hello", **kw: object) -> MessageView:
    return await services.messaging.send(account, SendRequest("+254712345678", text, **kw))  # type: ignore[arg-type]


def sent(message: MessageView, *ids: str, connector: str = "c1") -> SubmitOutcome:
    return SubmitOutcome(
        message_id=message.id,
        connector=connector,
        acked_parts=tuple(enumerate(ids, start=1)),
        complete=True,
    )


def receipt(carrier_id: str, status: MessageStatus, err: str = "000") -> CarrierReceipt:
    return CarrierReceipt("c1", carrier_id, status, err, NOW)


async def status_of(services: Services, account: int, m: MessageView) -> MessageView:
    return await services.messaging.get(account, m.uuid)


async def test_sent_then_delivered_records_history(services: Services, account: int) -> None:
    m = await send(services, account)
    assert await services.delivery.record([sent(m, "abc")]) == [True]
    assert (await status_of(services, account, m)).status is MessageStatus.SENT
    assert await services.delivery.record([receipt("abc", MessageStatus.DELIVERED)]) == [True]
    final = await status_of(services, account, m)
    assert final.status is MessageStatus.DELIVERED
    assert [c.status for c in final.history] == [
        MessageStatus.ACCEPTED,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    ]


async def test_a_transition_happens_once(services: Services, account: int, db: Database) -> None:
    m = await send(services, account)
    await services.delivery.record([sent(m, "abc")])
    await services.delivery.record([receipt("abc", MessageStatus.DELIVERED)])
    await services.delivery.record([receipt("abc", MessageStatus.FAILED, "001")])
    assert (await status_of(services, account, m)).status is MessageStatus.DELIVERED
    history = (await status_of(services, account, m)).history
    assert [(c.status, c.description) for c in history] == [
        (MessageStatus.ACCEPTED, "accepted via rest"),
        (MessageStatus.SENT, "handed to carrier via c1"),
        (MessageStatus.DELIVERED, "delivered to the handset"),
    ]


async def parked(db: Database) -> list[str]:
    query = select(unmatched_receipts.c.carrier_message_id)
    return list(await db.read(lambda conn: conn.execute(query).scalars().all()))


async def test_a_receipt_for_an_unknown_id_is_kept_once_and_forgotten_after_3_days(
    services: Services, db: Database
) -> None:
    assert await services.delivery.record([receipt("nope", MessageStatus.DELIVERED)]) == [False]
    assert await services.delivery.record([receipt("nope", MessageStatus.DELIVERED)]) == [False]
    assert await parked(db) == ["nope"]  # the carrier's repeat changes nothing
    assert await services.delivery.prune_unmatched() == 0
    old = datetime.now(UTC) - UNMATCHED_TTL - timedelta(minutes=1)
    await db.write(lambda conn: conn.execute(update(unmatched_receipts).values(received_at=old)))
    assert await services.delivery.prune_unmatched() == 1
    assert await parked(db) == []


async def test_a_receipt_before_its_submit_is_applied_when_the_submit_is_recorded(
    services: Services, account: int, db: Database
) -> None:
    """Once dropped after 1.3 s of retries: now kept, and the submit's transaction applies it."""
    single, long = await send(services, account), await send(services, account, "z" * 400)
    early = [
        receipt("s1", MessageStatus.DELIVERED),
        receipt("l1", MessageStatus.DELIVERED),
        receipt("l2", MessageStatus.DELIVERED),
    ]
    assert await services.delivery.record(early) == [False, False, False]
    await services.delivery.record([sent(single, "s1")])
    await services.delivery.record([replace(sent(long, "l1", "l2", "l3"), parts=3)])
    assert (await status_of(services, account, single)).status is MessageStatus.DELIVERED
    assert (await status_of(services, account, long)).status is MessageStatus.SENT
    assert await parked(db) == []
    await services.delivery.record([receipt("l3", MessageStatus.DELIVERED)])
    final = await status_of(services, account, long)
    assert final.status is MessageStatus.DELIVERED
    assert [c.status for c in final.history] == [
        MessageStatus.ACCEPTED,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    ]


async def test_the_sweeper_applies_receipts_parked_while_another_node_recorded_the_submit(
    services: Services, account: int, db: Database
) -> None:
    """Both transactions at once: neither saw the other's row; match_parked finds the pair."""
    m = await send(services, account)
    await services.delivery.record([sent(m, "race")])
    await db.write(
        lambda conn: conn.execute(
            insert(unmatched_receipts).values(
                connector="c1",
                carrier_message_id="race",
                status="delivered",
                error_code="000",
                done_at=NOW,
                received_at=datetime.now(UTC),  # the sweeper looks back MATCH_WINDOW only
            )
        )
    )
    assert await services.delivery.match_parked() == 1
    assert (await status_of(services, account, m)).status is MessageStatus.DELIVERED
    assert await parked(db) == []
    assert await services.delivery.match_parked() == 0


async def test_submit_and_receipt_in_one_batch_keep_their_order(
    services: Services, account: int
) -> None:
    m = await send(services, account)
    result = await services.delivery.record([sent(m, "x1"), receipt("x1", MessageStatus.DELIVERED)])
    assert result == [True, True]
    assert (await status_of(services, account, m)).status is MessageStatus.DELIVERED


async def test_multipart_is_final_only_when_every_part_is(services: Services, account: int) -> None:
    m = await send(services, account, "z" * 400)  # three GSM-7 parts
    assert m.parts == 3
    await services.delivery.record([replace(sent(m, "p1", "p2", "p3"), parts=3)])
    await services.delivery.record([receipt("p1", MessageStatus.DELIVERED)])
    await services.delivery.record([receipt("p3", MessageStatus.DELIVERED)])
    assert (await status_of(services, account, m)).status is MessageStatus.SENT
    await services.delivery.record([receipt("p2", MessageStatus.FAILED, "034")])
    final = await status_of(services, account, m)
    assert final.status is MessageStatus.FAILED
    assert final.error_code == "034"


async def test_early_part_receipt_before_the_last_part_is_taken(
    services: Services, account: int
) -> None:
    m = await send(services, account, "z" * 200)  # two parts
    partial = SubmitOutcome(
        m.id, "c1", ((1, "q1"),), complete=False, error=SubmitError(True, "timeout", "slow")
    )
    await services.delivery.record([partial])
    await services.delivery.record([receipt("q1", MessageStatus.DELIVERED)])
    assert (await status_of(services, account, m)).status is MessageStatus.ACCEPTED
    await services.delivery.record(
        [SubmitOutcome(m.id, "c1", ((2, "q2"),), complete=True, parts=2)]
    )
    await services.delivery.record([receipt("q2", MessageStatus.DELIVERED)])
    assert (await status_of(services, account, m)).status is MessageStatus.DELIVERED


async def test_temporary_error_requeues_with_backoff(
    services: Services, account: int, db: Database
) -> None:
    m = await send(services, account)
    claimed = await db.write(
        lambda conn: queue.claim(
            conn,
            owner="n1",
            include=None,
            limit=10,
            now=datetime.now(UTC),
            lease=timedelta(minutes=5),
            skip_locked=False,
        )
    )
    assert [r.id for r in claimed] == [m.id]
    later = datetime.now(UTC) + timedelta(seconds=30)
    error = SubmitError(True, "ESME_RTHROTTLED", "carrier answered ESME_RTHROTTLED")
    await services.delivery.record(
        [SubmitOutcome(m.id, "c1", (), complete=False, error=error, retry_at=later)]
    )
    row = await db.read(
        lambda conn: (conn.execute(select(messages).where(messages.c.id == m.id))).one()
    )
    assert row.status == "accepted" and row.attempts == 1 and row.lease_owner is None
    assert abs((row.next_attempt_at - later).total_seconds()) < 0.01


async def test_permanent_rejection_fails_and_refunds(services: Services, account: int) -> None:
    m = await send(services, account)
    error = SubmitError(False, "ESME_RINVDSTADR", "carrier answered ESME_RINVDSTADR")
    await services.delivery.record([SubmitOutcome(m.id, "c1", (), complete=False, error=error)])
    final = await status_of(services, account, m)
    assert final.status is MessageStatus.FAILED and final.error_code == "ESME_RINVDSTADR"
    assert await services.billing.balance(account) == 100
    assert (await services.billing.reconcile(account)).ok


async def test_expiry_refunds_only_what_never_left(
    services: Services, account: int, db: Database
) -> None:
    waiting = await send(services, account, "never sent")
    answered = await send(services, account, "sent, no receipt")
    await services.delivery.record([sent(answered, "r1")])
    past = datetime.now(UTC) - timedelta(hours=3)
    await db.write(lambda conn: conn.execute(update(messages).values(valid_until=past)))
    assert await services.delivery.expire_overdue() == 2
    assert (await status_of(services, account, waiting)).status is MessageStatus.EXPIRED
    assert (await status_of(services, account, answered)).status is MessageStatus.EXPIRED
    assert await services.billing.balance(account) == 99
    assert (await services.billing.reconcile(account)).ok


async def test_cancel_refunds_and_refuses_what_is_in_flight(
    services: Services, account: int, db: Database
) -> None:
    m = await send(services, account)
    cancelled = await services.messaging.cancel(account, m.uuid)
    assert cancelled.status is MessageStatus.CANCELLED
    assert await services.billing.balance(account) == 100
    other = await send(services, account)
    await db.write(
        lambda conn: queue.claim(
            conn,
            owner="n1",
            include=None,
            limit=10,
            now=datetime.now(UTC),
            lease=timedelta(minutes=5),
            skip_locked=False,
        )
    )
    with pytest.raises(Conflict):
        await services.messaging.cancel(account, other.uuid)
    assert (await services.billing.reconcile(account)).ok


async def test_callbacks_are_queued_with_each_change(
    services: Services, account: int, db: Database
) -> None:
    m = await send(services, account, callback_url="https://93.184.216.34/hook")
    await services.delivery.record([sent(m, "cb1")])
    await services.delivery.record([receipt("cb1", MessageStatus.DELIVERED)])
    rows = await db.read(
        lambda conn: (conn.execute(select(notifications).order_by(notifications.c.id))).all()
    )
    payloads = [json.loads(r.payload) for r in rows]
    assert [(p["status"], p["state"]) for p in payloads] == [
        ("sent", "sent"),
        ("delivered", "delivered"),
    ]
    assert all(
        p["uuid"] == m.uuid and r.url == "https://93.184.216.34/hook"
        for p, r in zip(payloads, rows, strict=True)
    )
    assert [(r.sequence, r.delivery_id) for r in rows] == [(1, f"{m.uuid}.1"), (2, f"{m.uuid}.2")]
    # a message refused at submit has one change: failed, from accepted
    refused = await send(services, account, callback_url="https://93.184.216.34/hook")
    await services.delivery.record(
        [
            SubmitOutcome(
                refused.id, "c1", (), False, SubmitError(False, "0x45", "rejected by carrier")
            )
        ]
    )
    last = await db.read(
        lambda conn: conn.execute(select(notifications).order_by(notifications.c.id.desc())).first()
    )
    assert last is not None and (last.sequence, json.loads(last.payload)["state"]) == (1, "failed")


async def test_inbound_goes_to_the_owner_of_the_short_code(services: Services) -> None:
    owner = await services.accounts.create_account("Owner")
    await services.accounts.create_account("Bystander")
    mo = InboundMessage("c1", "254722000111", owner.short_code, b"STOP", 0, NOW)
    await services.delivery.record([mo])
    page = await services.messaging.list(owner.account_id, direction="mo")
    assert [(m.sender, m.body, m.status) for m in page.items] == [
        ("254722000111", "STOP", MessageStatus.RECEIVED)
    ]


async def test_mo_senders_are_stored_like_every_other_number(services: Services) -> None:
    """A carrier may send the national form; names (a bank, a shop) stay as they came."""
    owner = await services.accounts.create_account("Owner")
    senders = ["0712345678", "+254 722 000 111", "MPESA", "22141"]
    await services.delivery.record(
        [InboundMessage("c1", s, owner.short_code, b"hi", 0, NOW) for s in senders]
    )
    page = await services.messaging.list(owner.account_id, direction="mo")
    assert sorted(m.sender for m in page.items) == sorted(
        ["254712345678", "254722000111", "MPESA", "22141"]
    )


async def test_an_mo_to_nobodys_number_is_stored_and_logged(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    await services.delivery.record([InboundMessage("c1", "0712345678", "99999", b"hi", 0, NOW)])
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "unroutable MO message from 254712****** via c1: no account owns the number 99999;"
        " stored without an account"
    ]


async def test_long_inbound_is_reassembled_from_stored_segments(services: Services) -> None:
    owner = await services.accounts.create_account("Owner")

    whole = "kwanza 😀 pili".encode("utf-16-be")
    # the emoji's surrogate pair straddles segments 1 and 2
    cut1, cut2 = whole.find("😀".encode("utf-16-be")) + 2, len(whole) - 4
    pieces = [whole[:cut1], whole[cut1:cut2], whole[cut2:]]

    def seg(seq: int) -> InboundMessage:
        return InboundMessage(
            "c1", "254722000111", owner.short_code, pieces[seq - 1], 8, NOW, Concat(7, 3, seq)
        )

    await services.delivery.record([seg(3)])
    await services.delivery.record([seg(1), seg(1)])  # the carrier resent a segment
    assert (await services.messaging.list(owner.account_id)).total == 0
    await services.delivery.record([seg(2)])
    page = await services.messaging.list(owner.account_id)
    assert [(m.body, m.encoding, m.parts) for m in page.items] == [("kwanza 😀 pili", "ucs2", 3)]


async def test_progress_on_a_long_message_keeps_its_lease(
    services: Services, account: int, db: Database
) -> None:
    m = await send(services, account, "z" * 200)  # two parts
    await db.write(
        lambda conn: queue.claim(
            conn,
            owner="n1",
            include=None,
            limit=10,
            now=datetime.now(UTC),
            lease=timedelta(minutes=5),
            skip_locked=False,
        )
    )
    await services.delivery.record([SubmitOutcome(m.id, "c1", ((1, "g1"),), complete=False)])
    row = await db.read(
        lambda conn: (conn.execute(select(messages).where(messages.c.id == m.id))).one()
    )
    assert (row.status, row.lease_owner, row.attempts) == ("accepted", "n1", 0)
    assert await services.delivery.record([receipt("g1", MessageStatus.DELIVERED)]) == [True]
    await services.delivery.record(
        [SubmitOutcome(m.id, "c1", ((2, "g2"),), complete=True, parts=2)]
    )
    await services.delivery.record([receipt("g2", MessageStatus.DELIVERED)])
    assert (await status_of(services, account, m)).status is MessageStatus.DELIVERED


async def test_smpp_senders_are_owed_the_receipts_they_asked_for(
    services: Services, account: int, db: Database
) -> None:
    from jumbe.store.schema import smpp_outbox

    async def smpp(text: str, registered_delivery: int) -> MessageView:
        return await send(
            services, account, text, source="smpp", registered_delivery=registered_delivery
        )

    every, failures, none, rest = (
        await smpp("all", 1),
        await smpp("fail only", 2),
        await smpp("none", 0),
        await send(services, account, "rest"),
    )
    for m, carrier_id in ((every, "e"), (failures, "f"), (none, "n"), (rest, "r")):
        await services.delivery.record([sent(m, carrier_id)])
        await services.delivery.record([receipt(carrier_id, MessageStatus.DELIVERED)])
    other = await smpp("fails", 2)
    await services.delivery.record([sent(other, "o")])
    await services.delivery.record([receipt("o", MessageStatus.FAILED, "001")])
    owner = await services.accounts.create_account("Owner")
    mo = InboundMessage("c1", "254722000111", owner.short_code, b"hi", 0, NOW)
    await services.delivery.record([mo])
    rows = await db.read(
        lambda conn: (conn.execute(select(smpp_outbox.c.message_id, smpp_outbox.c.kind))).all()
    )
    receipts = {mid for mid, kind in rows if kind == "receipt"}
    assert receipts == {every.id, other.id}
    assert [kind for _, kind in rows].count("mo") == 1
