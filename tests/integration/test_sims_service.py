"""SIMs on real databases: imports, the lifecycle with its events, trends, permissions."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from jumbe.core.clock import utcnow
from jumbe.core.kenya_time import kenyan
from jumbe.core.sim_lifecycle import SimState
from jumbe.services import Services
from jumbe.services.accounts import NewAccount
from jumbe.services.errors import (
    Conflict,
    ForeignAccount,
    InvalidRequest,
    NotPermitted,
    UnknownAccount,
    UnknownSim,
)
from jumbe.services.sim_import import import_sims
from jumbe.store.database import Database
from jumbe.store.schema import sim_events, sims

HEADER = "iccid,imsi,msisdn,asset_name,imei,product_id,sim_type,status\n"


def sim_line(n: int, *, status: str = "", product: str = "", sim_type: str = "") -> str:
    return f"8925401401{n:010d},6390140{n:08d},30000{n:07d},T{n},,{product},{sim_type},{status}\n"


async def account_with_sims(
    services: Services, rows: str, batch: int = 1000, name: str = "Fleet"
) -> NewAccount:
    account = await services.accounts.create_account(name)
    report = await services.sims.import_csv(account.account_id, io.StringIO(HEADER + rows))
    assert report.rejected == 0, report.rejections
    return account


async def test_import_reports_bad_rows_by_line_and_keeps_the_good(services: Services) -> None:
    await services.products.add("14205001", "Speed Governor 300MB + 20SMS")
    account = await services.accounts.create_account("Fleet")
    rows = (
        HEADER
        + sim_line(1, product="14205001", status="Active")  # line 2
        + sim_line(2)
        + "not,a,sim,,,,,\n"  # line 4
        + sim_line(3, product="nope")
        + sim_line(4, sim_type="teleport")
        + sim_line(5, status="terminated")
        + sim_line(1).replace("0000000001,T1", "0000000009,T9")  # same iccid as line 2
        + "\n"
        + sim_line(6)  # line 10, after a blank line
        + "1,2\n"
    )
    rejected: list[int] = []
    report = await services.sims.import_csv(
        account.account_id,
        io.StringIO(rows),
        on_rejection=lambda r: rejected.append(r.line),
    )
    assert (report.accepted, report.rejected) == (3, 6)
    assert rejected == [4, 5, 6, 7, 8, 11]
    reasons = {r.line: r.reason for r in report.rejections}
    assert "iccid" in reasons[4] and "unknown product_id" in reasons[5]
    assert "sim_type" in reasons[6] and "cannot arrive Terminated" in reasons[7]
    assert "duplicate iccid" in reasons[8] and "fields" in reasons[11]
    sims = await services.sims.page(account.account_id)
    assert [s.msisdn for s in sims] == ["300000000001", "300000000002", "300000000006"]
    first = sims[0]
    assert first.status is SimState.ACTIVE and first.product is not None
    assert first.activated_by == "import" and first.expiry_year == kenyan(utcnow()).year + 10
    assert sims[1].status is SimState.IDLE and sims[1].sim_type == "standard"


async def test_duplicates_across_batches_and_accounts_are_refused(services: Services) -> None:
    first = await account_with_sims(services, sim_line(1) + sim_line(2))
    other = await services.accounts.create_account("Other")
    report = await services.sims.import_csv(
        other.account_id, io.StringIO(HEADER + sim_line(3) + sim_line(2) + sim_line(3))
    )
    assert (report.accepted, report.rejected) == (1, 2)
    assert [r.line for r in report.rejections] == [3, 4]
    assert "iccid 89254014010000000002 is already registered" in report.rejections[0].reason
    assert "duplicate iccid" in report.rejections[1].reason
    assert await services.sims.count(first.account_id) == 2


async def test_a_bad_header_writes_nothing(services: Services) -> None:
    account = await services.accounts.create_account("Fleet")
    for header in ("iccid,imsi\n", "iccid,imsi,msisdn,colour\n", ""):
        with pytest.raises(InvalidRequest):
            await services.sims.import_csv(account.account_id, io.StringIO(header + sim_line(1)))
    assert await services.sims.count(account.account_id) == 0


async def test_import_in_small_batches_streams_every_row(services: Services) -> None:
    account = await services.accounts.create_account("Fleet")
    rows = "".join(sim_line(n) for n in range(1, 2501))
    seen: list[int] = []
    report = await import_sims(
        services.sims.db,
        account.account_id,
        io.StringIO(HEADER + rows),
        batch=100,
        on_progress=lambda r: seen.append(r.rows),
    )
    assert report.accepted == 2500 and seen[-1] == 2500
    assert await services.sims.count(account.account_id) == 2500


async def test_lifecycle_changes_are_checked_and_recorded(services: Services, db: Database) -> None:
    account = await account_with_sims(services, sim_line(1) + sim_line(2, status="suspended"))
    me = account.account_id
    active = await services.sims.activate(me, "254300000000001", actor="ops@acme.co.ke")
    assert active.status is SimState.ACTIVE and active.activated_by == "ops@acme.co.ke"
    assert active.activated_at is not None
    with pytest.raises(Conflict, match="is Active"):
        await services.sims.activate(me, "300000000001", actor="ops@acme.co.ke")
    with pytest.raises(Conflict):
        await services.sims.resume(me, "300000000001", actor="x")
    suspended = await services.sims.suspend(me, "300000000001", actor="x")
    resumed = await services.sims.resume(me, "300000000001", actor="y")
    assert suspended.status is SimState.SUSPENDED and resumed.status is SimState.ACTIVE
    assert resumed.activated_by == "ops@acme.co.ke"  # resuming is not a new activation
    with pytest.raises(Conflict):  # a suspended SIM is resumed, not activated
        await services.sims.activate(me, "300000000002", actor="x")
    await services.sims.move(me, "300000000002", SimState.TERMINATED, actor="operator")
    with pytest.raises(Conflict):
        await services.sims.resume(me, "300000000002", actor="x")
    with pytest.raises(UnknownSim):
        await services.sims.suspend(me, "300000000099", actor="x")
    renamed = await services.sims.rename(me, "300000000001", "Truck 7")
    assert renamed.asset_name == "Truck 7"
    query = (
        select(sim_events.c.from_status, sim_events.c.to_status, sim_events.c.actor)
        .where(sim_events.c.sim_id == active.id)
        .order_by(sim_events.c.id)
    )
    events = await db.read(lambda conn: conn.execute(query).all())
    assert [tuple(e) for e in events] == [
        (None, "idle", "import"),
        ("idle", "active", "ops@acme.co.ke"),
        ("active", "suspended", "x"),
        ("suspended", "active", "y"),
    ]


async def test_racing_activations_activate_once(services: Services) -> None:
    account = await account_with_sims(services, sim_line(1))
    results = await asyncio.gather(
        *(
            services.sims.activate(account.account_id, "300000000001", actor=f"u{i}")
            for i in range(10)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))


async def test_suspension_checks_the_product(services: Services) -> None:
    await services.products.add("14205001", "Tariff")
    account = await account_with_sims(services, sim_line(1, product="14205001", status="active"))
    with pytest.raises(Conflict, match="product"):
        await services.sims.suspend(account.account_id, "300000000001", actor="x", product="1")
    await services.sims.suspend(account.account_id, "300000000001", actor="x", product="14205001")


async def test_trends_count_sims_entering_each_state_per_kenyan_day(services: Services) -> None:
    account = await account_with_sims(services, sim_line(1) + sim_line(2) + sim_line(3))
    me = account.account_id
    await services.sims.activate(me, "300000000001", actor="a")
    await services.sims.activate(me, "300000000002", actor="a")
    await services.sims.suspend(me, "300000000002", actor="a")
    await services.sims.resume(me, "300000000002", actor="a")
    await services.sims.move(me, "300000000003", SimState.POOLED, actor="a")
    today = kenyan(utcnow()).date()
    trends = await services.sims.trends(me, today - timedelta(days=2), today)
    assert trends.days[-1] == today and len(trends.days) == 3
    assert trends.entered[SimState.IDLE] == [0, 0, 3]
    assert trends.entered[SimState.ACTIVE] == [0, 0, 2]  # SIMs, not events: 2 was active twice
    assert trends.entered[SimState.SUSPENDED] == [0, 0, 1]
    assert trends.entered[SimState.POOLED] == [0, 0, 1]
    other = await services.accounts.create_account("Other")
    empty = await services.sims.trends(other.account_id, today, today)
    assert all(v == [0] for v in empty.entered.values())
    with pytest.raises(InvalidRequest):
        await services.sims.trends(me, today, today - timedelta(days=1))


async def test_authorise_checks_account_number_and_user_permission(services: Services) -> None:
    mine = await services.accounts.create_account("Mine", owner_username="boss@mine.co.ke")
    other = await services.accounts.create_account("Other")
    sims = services.sims
    me = mine.account_id
    assert await sims.authorise(me, [mine.vpn_group], "boss@mine.co.ke", "activate") == me
    with pytest.raises(ForeignAccount, match="Kindly use your own vpnGroup"):
        await sims.authorise(me, [mine.vpn_group, other.vpn_group], "boss@mine.co.ke", "view")
    with pytest.raises(UnknownAccount):
        await sims.authorise(me, ["1-000000000000_VPN"], "boss@mine.co.ke", "view")
    with pytest.raises(NotPermitted):  # another account's owner is not our user
        await sims.authorise(me, [mine.vpn_group], other.username, "view")
    await services.users.add_user(me, "viewer@mine.co.ke", permissions=["view"])
    await sims.authorise(me, [mine.vpn_group], "viewer@mine.co.ke", "view")
    with pytest.raises(NotPermitted, match="User not permitted to carry out operation"):
        await sims.authorise(me, [mine.vpn_group], "viewer@mine.co.ke", "rename")
    assert await services.users.grant("viewer@mine.co.ke", ["rename"]) == ("view", "rename")
    await sims.authorise(me, [mine.vpn_group], "viewer@mine.co.ke", "rename")
    assert await services.users.revoke("viewer@mine.co.ke", ["view", "rename"]) == ()
    with pytest.raises(NotPermitted):
        await sims.authorise(me, [mine.vpn_group], "viewer@mine.co.ke", "view")
    with pytest.raises(InvalidRequest):
        await services.users.grant("viewer@mine.co.ke", ["teleport"])


async def positions(services: Services, account_id: int) -> list[int]:
    query = select(sims.c.position).where(sims.c.account_id == account_id).order_by(sims.c.id)
    return list(await services.sims.db.read(lambda conn: conn.execute(query).scalars().all()))


async def test_positions_stay_dense_when_the_database_refuses_rows(services: Services) -> None:
    """A SIM already registered leaves no hole: allsims' startAtIndex stays exact."""
    first = await account_with_sims(services, sim_line(2) + sim_line(4))
    me = (await account_with_sims(services, sim_line(1), name="Mine")).account_id
    report = await services.sims.import_csv(
        me, io.StringIO(HEADER + sim_line(2) + sim_line(3) + sim_line(4) + sim_line(5))
    )
    assert (report.accepted, report.rejected) == (2, 2)
    assert await positions(services, me) == [0, 1, 2]
    assert await positions(services, first.account_id) == [0, 1]
    page = await services.sims.page(me, offset=1, limit=5)
    assert [s.msisdn for s in page] == ["300000000003", "300000000005"]
    more = await services.sims.import_csv(me, io.StringIO(HEADER + sim_line(6)))
    assert more.accepted == 1 and await positions(services, me) == [0, 1, 2, 3]


async def test_concurrent_imports_into_one_account_page_every_sim_once(
    services: Services,
) -> None:
    account = await services.accounts.create_account("Fleet")
    files = [
        HEADER + "".join(sim_line(n) for n in range(start, start + 300))
        for start in (1, 1001, 2001, 3001)
    ]
    reports = await asyncio.gather(
        *(
            import_sims(services.sims.db, account.account_id, io.StringIO(f), batch=50)
            for f in files
        )
    )
    assert sum(r.accepted for r in reports) == 1200
    assert sorted(await positions(services, account.account_id)) == list(range(1200))
    seen = []
    for start in range(0, 1200, 70):
        seen += [
            s.iccid for s in await services.sims.page(account.account_id, offset=start, limit=70)
        ]
    assert len(seen) == len(set(seen)) == 1200
