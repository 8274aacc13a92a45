"""Migrations: the migrated schema is the declared one, and upgrades keep existing data."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

import jumbe.store.database as database
from jumbe.services import Services
from jumbe.services.billing import KES
from jumbe.services.errors import Conflict
from jumbe.settings import Settings
from jumbe.store.database import Database, alembic_config
from jumbe.store.schema import metadata


async def test_migrated_schema_matches_the_declared_one(db: Database) -> None:
    def differences(conn: Any) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    assert await db.read(differences) == []


async def test_upgrade_from_the_first_revision_keeps_data(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    monkeypatch.setattr(database, "_upgrade", lambda c: command.upgrade(alembic_config(c), "0001"))
    await db.migrate()
    now = datetime.now(UTC)
    stamp = now.replace(tzinfo=None).isoformat(" ") if db.is_sqlite else now

    def work(conn: Connection) -> Any:
        conn.execute(
            text(
                "INSERT INTO accounts (id, name, team_code, status, webhook_secret, created_at)"
                " VALUES (1, 'a', 'A1', 'active', 's', :n)"
            ),
            {"n": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, uuid, account_id, direction, source, sender, recipient,"
                " carrier, body, encoding, parts, units, status, status_at, created_at,"
                " valid_until, next_attempt_at) VALUES (1, 'u1', 1, 'mt', 'rest', 'S',"
                " '254712345678', 'safaricom', 'hi', 'gsm7', 1, 1, 'sent', :n, :n, :n, :n)"
            ),
            {"n": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO message_events (message_id, status, description, created_at)"
                " VALUES (1, 'sent', 'handed to carrier via upstream', :n)"
            ),
            {"n": stamp},
        )
        conn.execute(
            text("INSERT INTO wallets (account_id, balance, updated_at) VALUES (1, 7, :n)"),
            {"n": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_entries (account_id, units, kind, description, created_at)"
                " VALUES (1, 7, 'credit', 'top-up', :n)"
            ),
            {"n": stamp},
        )
        conn.execute(
            text(
                "INSERT INTO users (account_id, username, password_hash, role, created_at)"
                " VALUES (1, 'boss', 'h', 'owner', :n), (1, 'clerk', 'h', 'member', :n)"
            ),
            {"n": stamp},
        )

    await db.write(work)
    monkeypatch.undo()
    await db.migrate()  # to the newest revision, with child rows in place

    def work2(conn: Connection) -> Any:
        row = (conn.execute(text("SELECT registered_delivery, udh, body FROM messages"))).one()
        events = conn.execute(
            text("SELECT sent_via FROM messages WHERE sent_at IS NOT NULL")
        ).scalar_one()
        wallets = (conn.execute(text("SELECT asset, balance FROM wallets ORDER BY asset"))).all()
        ledger = (conn.execute(text("SELECT asset, units FROM ledger_entries"))).all()
        vpn_group = (conn.execute(text("SELECT vpn_group FROM accounts"))).scalar_one()
        permissions = dict((conn.execute(text("SELECT username, permissions FROM users"))).all())
        return row, events, wallets, ledger, vpn_group, permissions

    row, events, wallets, ledger, vpn_group, permissions = await db.read(work2)
    assert tuple(row) == (0, None, "hi") and events == "upstream"  # the event, now columns
    assert [tuple(w) for w in wallets] == [("KES", 0), ("units", 7)]
    assert [tuple(e) for e in ledger] == [("units", 7)]
    assert re.fullmatch(r"1-\d{12}_VPN", vpn_group)
    assert permissions == {"boss": "view,activate,suspend_resume,rename,message", "clerk": ""}
    await db.dispose()


async def test_downgrade_to_0002_and_back(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = Services.build(db, settings)
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 500, asset=KES)
    monkeypatch.setattr(
        database, "_upgrade", lambda c: command.downgrade(alembic_config(c), "0002")
    )
    await db.migrate()
    wallets = await db.read(
        lambda conn: conn.execute(text("SELECT balance FROM wallets")).scalars().all()
    )
    assert wallets == [0]  # the units wallet stays; KES had no place in 0002
    monkeypatch.undo()
    await db.migrate()


async def test_upgrade_numbers_existing_sims_per_account(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = Services.build(db, settings)
    mine = await services.accounts.create_account("Mine")
    other = await services.accounts.create_account("Other")
    monkeypatch.setattr(
        database, "_upgrade", lambda c: command.downgrade(alembic_config(c), "0006")
    )
    await db.migrate()
    stamp = "2024-01-01 00:00:00" if db.is_sqlite else datetime.now(UTC)

    def interleaved(conn: Connection) -> None:
        for n, account in enumerate((mine, other, mine, mine, other)):
            conn.execute(
                text(
                    "INSERT INTO sims (account_id, iccid, imsi, msisdn, sim_type, status,"
                    " status_at, created_at) VALUES (:a, :iccid, :imsi, :msisdn, 'standard',"
                    " 'idle', :n, :n)"
                ),
                {
                    "a": account.account_id,
                    "iccid": f"892540140101000000{n:02d}",
                    "imsi": f"6390140100000{n:02d}",
                    "msisdn": f"3000000000{n:02d}",
                    "n": stamp,
                },
            )

    await db.write(interleaved)
    monkeypatch.undo()
    await db.migrate()
    rows = await db.read(
        lambda conn: conn.execute(text("SELECT account_id, position FROM sims ORDER BY id")).all()
    )
    counts = await db.read(
        lambda conn: dict(conn.execute(text("SELECT id, sim_count FROM accounts")).all())
    )
    a, b = mine.account_id, other.account_id
    assert [tuple(r) for r in rows] == [(a, 0), (b, 0), (a, 1), (a, 2), (b, 1)]
    assert counts == {a: 3, b: 2}


async def test_upgrade_keeps_accounts_that_already_share_a_name(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0009 names could repeat: the upgrade must not fail on them, nor rename them."""
    services = Services.build(db, settings)
    monkeypatch.setattr(
        database, "_upgrade", lambda c: command.downgrade(alembic_config(c), "0007")
    )
    await db.migrate()
    stamp = "2024-01-01 00:00:00" if db.is_sqlite else datetime.now(UTC)

    def duplicates(conn: Connection) -> None:
        for n, name in enumerate(("acme", "ACME ", "Other", "acme")):
            conn.execute(
                text(
                    "INSERT INTO accounts (name, team_code, status, webhook_secret, created_at,"
                    " vpn_group) VALUES (:name, :team, 'active', 's', :n, :vpn)"
                ),
                {"name": name, "team": f"T{n}", "n": stamp, "vpn": f"1-10000000000{n}_VPN"},
            )

    await db.write(duplicates)
    monkeypatch.undo()
    await db.migrate()
    rows = await db.read(
        lambda conn: conn.execute(text("SELECT name, name_key FROM accounts ORDER BY id")).all()
    )
    assert [tuple(r) for r in rows] == [
        ("acme", "acme"),  # the oldest keeps the name
        ("ACME ", None),
        ("Other", "other"),
        ("acme", None),
    ]
    with pytest.raises(Conflict, match="already exists"):
        await services.accounts.create_account("Acme")
    with pytest.raises(Conflict, match="3 accounts are named 'acme'; use the team code"):
        await services.accounts.find_account("acme")
    assert await services.accounts.find_account("t3") == 4
    assert await services.accounts.find_account("OTHER") == 3
