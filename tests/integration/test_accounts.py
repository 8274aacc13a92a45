"""Accounts: names are unique (without regard to case or spacing), from the service and the CLI."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from jumbe.cli import app
from jumbe.services import Services
from jumbe.services.errors import Conflict, NotFound
from jumbe.settings import Settings
from jumbe.store.database import Database
from jumbe.store.schema import accounts, api_tokens, users


def count(db: Database, table: object) -> object:
    return db.read(lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one())


async def test_a_name_is_taken_whatever_its_case_or_spacing(
    services: Services, db: Database
) -> None:
    first = await services.accounts.create_account("Acme Ltd")
    for again in ("Acme Ltd", "acme ltd", "  ACME   LTD ", "Ａｃｍｅ Ltd"):  # the last: full-width
        with pytest.raises(Conflict, match="already exists"):
            await services.accounts.create_account(again)
    assert await count(db, accounts) == 1
    assert await count(db, users) == 2  # the owner and the M2M user, once
    assert await services.accounts.find_account("ACME ltd") == first.account_id
    other = await services.accounts.create_account("Acme Ltd Kisumu")
    assert other.account_id != first.account_id


async def test_the_same_name_at_the_same_moment_makes_one_account(
    services: Services, db: Database
) -> None:
    outcomes = await asyncio.gather(
        *(services.accounts.create_account("Twins") for _ in range(4)), return_exceptions=True
    )
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(made) == 1 and len(refused) == 3, outcomes
    assert await count(db, accounts) == 1
    assert await count(db, api_tokens) == 1


async def test_a_taken_owner_username_or_account_number_is_named(services: Services) -> None:
    first = await services.accounts.create_account("One", owner_username="boss@one.co.ke")
    with pytest.raises(Conflict, match=re.escape("user 'boss@one.co.ke' already exists")):
        await services.accounts.create_account("Two", owner_username="boss@one.co.ke")
    with pytest.raises(Conflict, match=re.escape(f"account number {first.vpn_group} is taken")):
        await services.accounts.create_account("Three", vpn_group=first.vpn_group)
    with pytest.raises(NotFound):
        await services.accounts.find_account("Two")


def run_cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["accounts", *args, "--data-dir", str(settings.data_dir)],
        env={"JUMBE_DATABASE_URL": settings.database_url},
    )


async def test_creating_a_duplicate_from_the_command_line_fails_and_writes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    created = await asyncio.to_thread(run_cli, settings, "create", "acme", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["name"] == "acme"
    again = await asyncio.to_thread(run_cli, settings, "create", "Acme", "--json")
    assert again.exit_code != 0
    assert again.stdout == ""
    assert "error: an account named 'Acme' already exists" in again.stderr
    db = Database(settings.database_url)
    try:
        assert await count(db, accounts) == 1
        assert await count(db, users) == 2
    finally:
        await db.dispose()
