"""The IMSI check on real databases: billed in KES through the ledger, audited, limited."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from jumbe.core.clock import utcnow
from jumbe.core.kenya_time import kenyan
from jumbe.core.swap_check import NEVER, hashed_imsi, partner_key
from jumbe.services import Services
from jumbe.services.billing import KES
from jumbe.services.errors import (
    InsufficientBalance,
    InvalidRecipient,
    InvalidRequest,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from jumbe.services.imsi_checks import SECRET_FILE, ImsiHashKey
from jumbe.store.database import Database
from jumbe.store.schema import accounts, imsi_checks, ledger_entries, oauth_tokens

IMSI = "639020000000001"
REGISTRY = f"msisdn,imsi,registration_date\n254722000000,{IMSI},2022-03-01\n"


async def partner(services: Services, kes_cents: int = 10_000) -> int:
    taken = len(await services.accounts.db.read(lambda conn: conn.execute(select(accounts)).all()))
    account = await services.accounts.create_account(f"Bank {taken + 1}")
    if kes_cents:
        await services.billing.credit(account.account_id, kes_cents, asset=KES)
    return account.account_id


async def audit(db: Database) -> list[tuple[str, int, int | None]]:
    query = select(
        imsi_checks.c.outcome, imsi_checks.c.price, imsi_checks.c.ledger_entry_id
    ).order_by(imsi_checks.c.id)
    rows = await db.read(lambda conn: conn.execute(query).all())
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_check_is_charged_audited_and_reconciles(services: Services, db: Database) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    bank = await partner(services)
    check = await services.imsi_checks.check(bank, "0722000000")
    assert check.msisdn == "254722000000" and check.last_swap == NEVER
    assert len(check.hashed_imsi) == 16 and check.registered_on.isoformat() == "2022-03-01"
    assert await services.billing.balance(bank, KES) == 10_000 - 2000
    assert await services.billing.balance(bank) == 0  # units untouched
    [(outcome, price, entry)] = await audit(db)
    assert (outcome, price) == ("found", 2000) and entry is not None
    line = await db.read(
        lambda conn: conn.execute(select(ledger_entries).where(ledger_entries.c.id == entry)).one()
    )
    assert (line.asset, line.kind, line.units) == ("KES", "charge", -2000)
    reconciled = await services.billing.reconcile(bank, KES)
    assert reconciled.ok and reconciled.debited == reconciled.paid_for == 2000
    assert (await services.billing.reconcile(bank)).ok


async def test_hashes_are_per_partner_and_change_with_a_swap(services: Services) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    one, two = await partner(services), await partner(services)
    first = await services.imsi_checks.check(one, "254722000000")
    assert (await services.imsi_checks.check(one, "254722000000")).hashed_imsi == first.hashed_imsi
    assert (await services.imsi_checks.check(two, "254722000000")).hashed_imsi != first.hashed_imsi
    at = datetime.now(UTC) - timedelta(days=10)
    await services.subscribers.swap("254722000000", "639020000000002", at=at)
    swapped = await services.imsi_checks.check(one, "254722000000")
    assert swapped.hashed_imsi != first.hashed_imsi
    assert swapped.last_swap == kenyan(at).date()


async def test_every_node_hashes_alike_and_an_old_node_key_is_kept(
    services: Services, db: Database, tmp_path: Path
) -> None:
    """Two nodes (own data dirs, one database) give a partner the same hash; a node that
    kept its key in its data dir before has that key adopted as the cluster's."""
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    bank = await partner(services)
    old_dir, new_dir = tmp_path / "old-node", tmp_path / "new-node"
    old_dir.mkdir()
    (old_dir / SECRET_FILE).write_text("a-key-from-before\n")
    old_node = ImsiHashKey(db, "", old_dir)
    new_node = ImsiHashKey(db, "", new_dir)
    assert await old_node.get() == await new_node.get() == b"a-key-from-before"
    assert not new_dir.exists()  # nothing per node any more
    checked = await services.imsi_checks.check(bank, "254722000000")
    assert checked.hashed_imsi == hashed_imsi(partner_key(b"a-key-from-before", bank), IMSI)
    assert await ImsiHashKey(db, "configured", new_dir).get() == b"configured"


async def test_an_old_swap_is_not_told(services: Services) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    await services.subscribers.swap(
        "254722000000", "639020000000002", at=datetime.now(UTC) - timedelta(days=120)
    )
    check = await services.imsi_checks.check(await partner(services), "254722000000")
    assert check.last_swap == NEVER


async def test_swaps_are_validated(services: Services) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    for msisdn, imsi, at in (
        ("254722000000", "639020000000001", None),  # the IMSI it already has
        ("254722000000", "123", None),
        ("254722000000", "639020000000002", datetime(2021, 1, 1, tzinfo=UTC)),  # before reg.
        ("254722000000", "639020000000002", utcnow() + timedelta(days=1)),
    ):
        with pytest.raises(InvalidRequest):
            await services.subscribers.swap(msisdn, imsi, at=at)
    with pytest.raises(NotFound):
        await services.subscribers.swap("254722000001", "639020000000002")


async def test_refusals_are_audited_but_not_charged(services: Services, db: Database) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    bank = await partner(services)
    with pytest.raises(InvalidRecipient, match="not a Safaricom number"):
        await services.imsi_checks.check(bank, "254733000000")
    with pytest.raises(InvalidRecipient):
        await services.imsi_checks.check(bank, "12")
    with pytest.raises(NotFound):
        await services.imsi_checks.check(bank, "254722999999")
    assert [(o, p, e) for o, p, e in await audit(db)] == [
        ("invalid", 0, None),
        ("invalid", 0, None),
        ("not_found", 0, None),
    ]
    assert await services.billing.balance(bank, KES) == 10_000


async def test_too_little_kes_writes_nothing(services: Services, db: Database) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    bank = await partner(services, kes_cents=1999)
    with pytest.raises(InsufficientBalance, match="KES"):
        await services.imsi_checks.check(bank, "254722000000")
    assert await audit(db) == []
    assert await services.billing.balance(bank, KES) == 1999


async def test_partners_are_rate_limited(services: Services) -> None:
    await services.subscribers.import_csv(io.StringIO(REGISTRY))
    services.imsi_checks.limiter.per_minute = 2
    bank, other = await partner(services), await partner(services)
    await services.imsi_checks.check(bank, "254722000000")
    await services.imsi_checks.check(bank, "254722000000")
    with pytest.raises(TooManyAttempts):
        await services.imsi_checks.check(bank, "254722000000")
    await services.imsi_checks.check(other, "254722000000")


async def test_registry_import_refuses_bad_and_known_numbers(services: Services) -> None:
    rows = (
        "msisdn,imsi,registration_date\n"
        "254722000000,639020000000001,2022-03-01\n"
        "0722000000,639020000000003,2022-03-01\n"
        "254722000002,639020000000004,01/03/2022\n"
        "hello,639020000000005,2022-03-01\n"
        "254722000003,639020000000006,2999-01-01\n"
    )
    report = await services.subscribers.import_csv(io.StringIO(rows))
    assert (report.accepted, report.rejected) == (1, 4)
    again = await services.subscribers.import_csv(io.StringIO(REGISTRY))
    assert again.rejected == 1 and "already registered" in again.rejections[0].reason


async def test_access_tokens_expire_and_wrong_secrets_fail(
    services: Services, db: Database
) -> None:
    account = await services.accounts.create_account("Acme")
    oauth = services.oauth
    with pytest.raises(Unauthenticated, match="Invalid Authentication passed"):
        await oauth.issue(account.daraja_consumer_key, "wrong", client="t")
    token = await oauth.issue(
        account.daraja_consumer_key, account.daraja_consumer_secret, client="t"
    )
    assert token.expires_in == 3599
    caller = await oauth.authenticate(token.token, client="t")
    assert caller.account_id == account.account_id
    await db.write(lambda conn: conn.execute(update(oauth_tokens).values(expires_at=utcnow())))
    with pytest.raises(Unauthenticated, match="Invalid Access Token"):
        await oauth.authenticate(token.token, client="t")
    await oauth.issue(account.daraja_consumer_key, account.daraja_consumer_secret, client="t")
    # the expired token was cleared away by the new issue
    count = await db.read(
        lambda conn: conn.execute(select(func.count()).select_from(oauth_tokens)).scalar_one()
    )
    assert count == 1
