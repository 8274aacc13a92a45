"""Device messaging on real databases: the SIM's rules, the queue limit, threads, hiding."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest

from jumbe.core.clock import utcnow
from jumbe.core.status import MessageStatus
from jumbe.services import Services
from jumbe.services.accounts import NewAccount
from jumbe.services.delivery import InboundMessage
from jumbe.services.device_messages import DeviceMessagingService
from jumbe.services.errors import Conflict, InvalidRequest, NotFound, QueueFull, UnknownSim

HEADER = "iccid,imsi,msisdn,sim_type,status\n"
ROWS = (
    "89254014010100030360,639014010003036,300000003036,standard,active\n"
    "89254014010100030361,639014010003037,300000003037,binary_custom_origin,active\n"
    "89254014010100030362,639014010003038,300000003038,standard,suspended\n"
    "89254014010100030363,639014010003039,300000003039,data_only,active\n"
)


async def fleet(services: Services, name: str = "Fleet") -> NewAccount:
    account = await services.accounts.create_account(name)
    report = await services.sims.import_csv(account.account_id, io.StringIO(HEADER + ROWS))
    assert report.rejected == 0, report.rejections
    await services.billing.credit(account.account_id, 1000, "test")
    return account


async def test_a_message_to_a_sim_is_an_ordinary_billed_message(services: Services) -> None:
    account = await fleet(services)
    sent = await services.device_messages.send(
        account.account_id, msisdn="254300000003036", text="route", source="sim-portal"
    )
    assert (sent.sim_msisdn, sent.sender, sent.status) == (
        "254300000003036",
        account.short_code,
        MessageStatus.ACCEPTED,
    )
    assert (sent.vpn_group, sent.iccid, sent.carrier_message_id) == (
        account.vpn_group,
        "89254014010100030360",
        None,
    )
    # the answer built at acceptance is what the store holds
    assert sent == await services.device_messages.get(account.account_id, sent.id)
    stored = await services.messaging.list(account.account_id)
    assert [(m.id, m.recipient, m.units) for m in stored.items] == [(sent.id, "254300000003036", 1)]
    assert stored.items[0].valid_until - stored.items[0].created_at == timedelta(hours=72)
    assert await services.billing.balance(account.account_id) == 999


async def test_the_sims_type_and_state_decide(services: Services) -> None:
    account = await fleet(services)
    send = services.device_messages.send
    with pytest.raises(Conflict, match="active SIMs; this one is Suspended"):
        await send(account.account_id, msisdn="300000003038", text="x", source="m2m")
    with pytest.raises(Conflict, match="do not take SMS"):
        await send(account.account_id, msisdn="300000003039", text="x", source="m2m")
    with pytest.raises(InvalidRequest, match="binary"):
        await send(account.account_id, msisdn="300000003036", binary=b"\x00\xff", source="m2m")
    # a standard SIM ignores a chosen origin; a custom-origin one uses it
    plain = await send(
        account.account_id, msisdn="300000003036", text="x", origin="447890123456", source="m2m"
    )
    assert plain.sender == account.short_code
    chosen = await send(
        account.account_id,
        iccid="89254014010100030361",
        binary=bytes.fromhex("0001fffe807f"),
        origin="447890123456",
        source="m2m",
    )
    assert (chosen.sender, chosen.body, chosen.encoding) == (
        "447890123456",
        "0001fffe807f",
        "binary",
    )
    with pytest.raises(UnknownSim):
        await send(account.account_id, msisdn="300000009999", text="x", source="m2m")


async def test_another_accounts_sim_is_unknown(services: Services) -> None:
    await fleet(services)
    other = await services.accounts.create_account("Other")
    with pytest.raises(UnknownSim):
        await services.device_messages.send(
            other.account_id, msisdn="300000003036", text="x", source="sim-portal"
        )
    with pytest.raises(UnknownSim):
        await services.device_messages.hide_thread(other.account_id, "254300000003036")


async def test_an_m2m_reference_is_used_once_per_account(services: Services) -> None:
    account = await fleet(services)
    send = services.device_messages.send
    await send(account.account_id, msisdn="300000003036", text="a", client_ref="abc1", source="m2m")
    with pytest.raises(Conflict, match="abc1"):
        await send(
            account.account_id, msisdn="300000003036", text="b", client_ref="abc1", source="m2m"
        )
    other = await fleet_of_other(services)
    await send(other.account_id, msisdn="300000004036", text="a", client_ref="abc1", source="m2m")


async def fleet_of_other(services: Services) -> NewAccount:
    account = await services.accounts.create_account("Other")
    rows = HEADER + "89254014010100040360,639014010004036,300000004036,standard,active\n"
    await services.sims.import_csv(account.account_id, io.StringIO(rows))
    await services.billing.credit(account.account_id, 100, "test")
    return account


async def test_the_operators_queue_limit_holds_under_concurrency(services: Services) -> None:
    account = await fleet(services)
    limited = DeviceMessagingService(services.messaging.db, services.messaging, queue_limit=5)
    outcomes = await asyncio.gather(
        *(
            limited.send(account.account_id, msisdn="300000003036", text=f"{n}", source="m2m")
            for n in range(12)
        ),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 7 and all(isinstance(o, QueueFull) for o in refused)
    assert "rejected by operator" in str(refused[0])
    # the refused ones cost nothing; another SIM has its own queue
    assert await services.billing.balance(account.account_id) == 995
    await limited.send(account.account_id, iccid="89254014010100030361", text="x", source="m2m")


async def test_portal_lists_search_filter_and_hide(services: Services) -> None:
    account = await fleet(services)
    me = account.account_id
    send = services.device_messages.send
    first = await send(me, msisdn="300000003036", text="one", source="sim-portal")
    second = await send(me, iccid="89254014010100030361", text="two", source="sim-portal")
    third = await send(me, msisdn="300000003036", text="three", source="sim-portal")
    pages = services.device_messages.page
    everything = await pages(me, page_size=2)
    assert ([m.id for m in everything.items], everything.total) == ([third.id, second.id], 3)
    assert [m.id for m in (await pages(me, page_no=2, page_size=2)).items] == [first.id]
    assert [m.id for m in (await pages(me, sim="254300000003036")).items] == [third.id, first.id]
    assert (await pages(me, sim="2543000000030**")).total == 3
    assert (await pages(me, sim="30000000303*")).total == 3
    assert (await pages(me, sim="254300000009999")).total == 0
    with pytest.raises(InvalidRequest):
        await pages(me, sim="abc")
    now = utcnow()
    assert (await pages(me, since=now - timedelta(minutes=1), until=now)).total == 3
    assert (await pages(me, since=now + timedelta(minutes=1))).total == 0
    assert (await pages(me, statuses=[MessageStatus.ACCEPTED])).total == 3
    assert (await pages(me, statuses=[MessageStatus.DELIVERED])).total == 0

    await services.device_messages.hide(me, second.id)
    with pytest.raises(NotFound):
        await services.device_messages.hide(me, second.id)
    assert await services.device_messages.hide_thread(me, "254300000003036") == 2
    assert (await pages(me)).total == 0
    # hidden from the portal only: the native API and the ledger keep them
    assert (await services.messaging.list(me)).total == 3
    assert [
        m.id for m in await services.device_messages.latest_sent(me, "89254014010100030360", 5)
    ] == [third.id, first.id]


async def test_a_reply_from_a_sim_joins_its_thread(services: Services) -> None:
    account = await fleet(services)
    now = utcnow()
    await services.delivery.record(
        [
            InboundMessage(
                connector="test",
                sender="254300000003036",
                recipient=account.short_code,
                data_coding=0,
                payload=b"pong",
                concat=None,
                received_at=now,
            )
        ]
    )
    thread = await services.device_messages.page(account.account_id, sim="300000003036")
    assert [(m.direction, m.body, m.status) for m in thread.items] == [
        ("mo", "pong", MessageStatus.RECEIVED)
    ]
