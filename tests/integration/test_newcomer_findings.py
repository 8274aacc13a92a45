"""What a careless new user ran into, each answered with a clear refusal or the right thing."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from typer.testing import CliRunner, Result

from jumbe.app import Jumbe
from jumbe.cli import app as cli
from jumbe.settings import Settings
from tests.conftest import wait_until


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


async def test_simulate_mo_finds_the_server_of_its_data_dir(
    jumbe: Jumbe, demo: httpx.AsyncClient
) -> None:
    """No port given: the server wrote where it answers into its data dir."""
    assert jumbe.demo is not None and jumbe.http_port != 8000
    data_dir = str(jumbe.settings.data_dir)
    args = ["simulate", "mo", "--to", jumbe.demo.short_code, "--data-dir", data_dir]
    sent = await asyncio.to_thread(run_cli, *args, "--from", "0712345678", "--text", "Ndiyo")
    assert sent.exit_code == 0, sent.output
    assert (
        sent.stdout
        == f"MO from 254712345678 to {jumbe.demo.short_code} handed to the simulated carrier\n"
    )

    async def arrived() -> list[dict[str, object]]:
        page = (await demo.get("/api/v1/messages", params={"direction": "mo"})).json()["data"]
        return page["items"]

    items = await wait_until(arrived, what="the MO message")
    assert items[0]["sender_id"] == "+254712345678"  # not +0712345678

    bad = await asyncio.to_thread(run_cli, *args, "--from", "abc", "--text", "x")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --from: not a handset's number: contains characters")
    # the control API refuses it too, with the reason
    answer = await demo.post(
        "/simulator/mo",
        json={"from": "abc", "to": jumbe.demo.short_code, "text": "x"},
        headers={"X-Simulator-Token": jumbe.simulator_token},
    )
    assert answer.status_code == 400
    assert "not a handset's number" in answer.json()["error"]


async def test_a_stopped_servers_address_is_forgotten(settings: Settings) -> None:
    app = Jumbe(settings)
    await app.start()
    written = (settings.data_dir / "server.url").read_text()
    assert written == f"http://127.0.0.1:{app.http_port}\n"
    await app.stop()
    assert not (settings.data_dir / "server.url").exists()


async def test_a_whitespace_only_message_is_refused_and_not_billed(
    jumbe: Jumbe, demo: httpx.AsyncClient
) -> None:
    assert jumbe.demo is not None
    before = await jumbe.services.billing.balance(jumbe.demo.account_id)
    for text in (" ", "  \n\t ", "\u3000"):
        answer = await demo.post("/api/v1/messages", json={"to": "0712345678", "message": text})
        assert answer.status_code == 400
        assert answer.json()["error"] == "message must not be only spaces and line breaks"
    assert await jumbe.services.billing.balance(jumbe.demo.account_id) == before
    assert (await demo.get("/api/v1/messages")).json()["data"]["total"] == 0


def test_unknown_carriers_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    refused = run_cli("carriers", "set", "254747", "nosuchcarrier", *data_dir)
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: unknown carrier 'nosuchcarrier'; the known carriers are airtel, finserve,"
        " homeland-media, infura, jtl, nrg-media-limited, safaricom, telkom (or another"
        " country's, or one named in the [routes] of the settings)\n"
    )
    assert run_cli("carriers", "set", "254747", "Airtel", *data_dir).stdout == "254747 -> Airtel\n"
    assert "254747  airtel" in run_cli("carriers", "list", *data_dir).stdout
    # a carrier the operator routes is known too
    (tmp_path / "jumbe.toml").write_text(
        '[[connectors]]\nname = "mvno"\nurl = "smpp://a:b@127.0.0.1:2775"\n'
        '[routes]\nmy-mvno = "mvno"\n'
    )
    assert run_cli("carriers", "set", "2547470", "my-mvno", *data_dir).exit_code == 0


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize(
    ("setting", "needs_tls"),
    [
        ("http_port", False),
        ("smpp_port", False),
        ("smpp_tls_port", True),
        ("simulator_port", False),
    ],
)
async def test_a_port_in_use_names_the_setting_that_moves_it(
    settings: Settings, taken_port: int, tmp_path: Path, setting: str, needs_tls: bool
) -> None:
    update: dict[str, object] = {setting: taken_port}
    if needs_tls:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost")
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "smpp.pem"))
        update |= {"smpp_tls_cert": tmp_path / "smpp.pem", "smpp_tls_key": tmp_path / "smpp.pem"}
    app = Jumbe(settings.model_copy(update=update))
    try:
        with pytest.raises(OSError) as raised:
            await app.start()
    finally:
        await app.stop()
    assert str(raised.value) == (
        f"cannot listen on 127.0.0.1:{taken_port}: Address already in use"
        f" (set JUMBE_{setting.upper()} to another port)"
    )


def test_serve_says_it_in_one_line(taken_port: int, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jumbe", "serve", "--data-dir", str(tmp_path)],
        env={
            **os.environ,
            "JUMBE_SMPP_PORT": str(taken_port),
            "JUMBE_HTTP_PORT": "0",
            "JUMBE_SIMULATOR_PORT": "0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{taken_port}: Address already in use"
        " (set JUMBE_SMPP_PORT to another port)"
    )
