"""Per-account SMPP passwords (issue 10, item 8): 8 characters, argon2-hashed, shown once,
rotatable from the command line; API tokens keep working as bind passwords."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from jumbe.app import Jumbe
from jumbe.cli import app
from jumbe.services.smpp_credentials import SMPP_PASSWORD_ALPHABET
from jumbe.settings import Settings
from jumbe.smpp.client import connect
from jumbe.smpp.constants import CommandStatus
from jumbe.smpp.errors import BindFailed
from jumbe.smpp.pdu import BindTransmitter
from jumbe.store.schema import accounts
from tests.integration.test_smpp_server import Inbox


async def bind(jumbe: Jumbe, system_id: str, password: str) -> int:
    try:
        session = await connect(
            "127.0.0.1",
            jumbe.smpp.ports[0],
            Inbox(),
            BindTransmitter(system_id=system_id, password=password),
            enquire_link_interval=None,
        )
    except BindFailed as refused:
        return refused.command_status
    await session.unbind()
    return CommandStatus.ESME_ROK


def run_cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["accounts", *args, "--data-dir", str(settings.data_dir)],
        env={"JUMBE_DATABASE_URL": settings.database_url},
    )


async def stored_hash(jumbe: Jumbe, account_id: int) -> str | None:
    query = select(accounts.c.smpp_password_hash).where(accounts.c.id == account_id)
    found: str | None = await jumbe.db.read(lambda conn: conn.execute(query).scalar_one())
    return found


async def test_a_new_account_binds_with_its_smpp_password_or_a_token(jumbe: Jumbe) -> None:
    demo = jumbe.demo
    assert demo is not None
    password = demo.smpp_password
    assert len(password) == 8 and set(password) <= set(SMPP_PASSWORD_ALPHABET)
    stored = await stored_hash(jumbe, demo.account_id)
    assert stored is not None and stored.startswith("$argon2id$") and password not in stored
    assert await bind(jumbe, demo.team_code, password) == CommandStatus.ESME_ROK
    assert await bind(jumbe, demo.team_code.lower(), password) == CommandStatus.ESME_ROK
    assert await bind(jumbe, demo.team_code, demo.api_token) == CommandStatus.ESME_ROK
    other = await jumbe.services.accounts.create_account("Other")
    assert other.smpp_password != password
    assert await bind(jumbe, other.team_code, password) == CommandStatus.ESME_RBINDFAIL
    assert await bind(jumbe, demo.team_code, password.swapcase()) == CommandStatus.ESME_RBINDFAIL


async def test_rotating_from_the_command_line_replaces_the_password(
    jumbe: Jumbe, caplog: pytest.LogCaptureFixture
) -> None:
    demo = jumbe.demo
    assert demo is not None
    rotated = await asyncio.to_thread(
        run_cli, jumbe.settings, "smpp-password", demo.team_code, "--json"
    )
    assert rotated.exit_code == 0, rotated.output
    answer = json.loads(rotated.stdout)
    assert answer["system_id"] == demo.team_code and answer["smpp_password"] != demo.smpp_password
    caplog.set_level(logging.WARNING, logger="jumbe.faces.smpp.server")
    assert await bind(jumbe, demo.team_code, demo.smpp_password) == CommandStatus.ESME_RBINDFAIL
    assert "wrong SMPP password" in caplog.text and demo.smpp_password not in caplog.text
    assert await bind(jumbe, demo.team_code, answer["smpp_password"]) == CommandStatus.ESME_ROK
    missing = await asyncio.to_thread(run_cli, jumbe.settings, "smpp-password", "NOSUCH0000")
    assert missing.exit_code != 0 and "no account 'NOSUCH0000'" in missing.stderr


async def test_an_account_from_before_smpp_passwords_binds_with_a_token_until_issued_one(
    jumbe: Jumbe, caplog: pytest.LogCaptureFixture
) -> None:
    demo = jumbe.demo
    assert demo is not None
    await jumbe.db.write(
        lambda conn: conn.execute(
            update(accounts).where(accounts.c.id == demo.account_id).values(smpp_password_hash=None)
        )
    )
    caplog.set_level(logging.WARNING, logger="jumbe.faces.smpp.server")
    assert await bind(jumbe, demo.team_code, demo.smpp_password) == CommandStatus.ESME_RBINDFAIL
    assert "the account has no SMPP password" in caplog.text
    assert await bind(jumbe, demo.team_code, demo.api_token) == CommandStatus.ESME_ROK
    issued = await jumbe.services.smpp_credentials.rotate_password(demo.account_id)
    assert await bind(jumbe, demo.team_code, issued) == CommandStatus.ESME_ROK


async def test_accounts_create_json_lists_the_smpp_password(settings: Settings) -> None:
    created = await asyncio.to_thread(run_cli, settings, "create", "Kisumu Fleet", "--json")
    assert created.exit_code == 0, created.output
    account = json.loads(created.stdout)
    assert len(account["smpp_password"]) == 8
    plain = await asyncio.to_thread(run_cli, settings, "create", "Nakuru Fleet")
    assert "smpp_password: " in plain.stdout
