"""`jumbe simulate device` against a running server: a device goes offline, a message to it
waits in the simulated carrier as *sent*, and is delivered once the device is back."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from jumbe.app import Jumbe
from jumbe.cli import app
from tests.conftest import final_status, wait_until

HANDSET = "254712345678"


def run_cli(data_dir: Path, port: int, *args: str) -> Result:
    """The command as a user runs it, pointed at the server's data dir and HTTP port."""
    return CliRunner().invoke(
        app,
        ["simulate", "device", *args, "--data-dir", str(data_dir)],
        env={"JUMBE_HTTP_PORT": str(port), "JUMBE_HTTP_HOST": "127.0.0.1"},
    )


async def test_offline_then_online_through_the_pipeline(
    jumbe: Jumbe, demo: httpx.AsyncClient
) -> None:
    assert jumbe.simulator is not None
    data_dir, port = jumbe.settings.data_dir, jumbe.http_port

    # Run in a thread: the command blocks on HTTP to the server on this event loop.
    off = await asyncio.to_thread(run_cli, data_dir, port, "0712345678", "--offline")
    assert off.exit_code == 0, off.output
    assert (
        off.stdout
        == f"{HANDSET} is offline until brought back with --online; 0 message(s) held for it\n"
    )

    sent = await demo.post("/api/v1/messages", json={"to": "0712345678", "message": "Washa"})
    uuid = sent.json()["data"]["uuid"]

    async def is_sent() -> bool:
        return bool((await demo.get(f"/api/v1/messages/{uuid}")).json()["data"]["state"] == "sent")

    await wait_until(is_sent, what="sent: taken by the carrier, waiting for the device")
    assert jumbe.simulator.stats()["messages_held"] == 1

    again = await asyncio.to_thread(run_cli, data_dir, port, HANDSET, "--offline", "--for", "3600")
    assert again.exit_code == 0, again.output
    assert (
        "is offline until 20" in again.stdout and "(Kenyan time); 1 message(s) held" in again.stdout
    )

    on = await asyncio.to_thread(run_cli, data_dir, port, "712345678", "--online")
    assert on.exit_code == 0, on.output
    assert on.stdout == f"{HANDSET} is online; 1 held message(s) released\n"
    assert (await final_status(demo, uuid))["status"] == "delivered"


async def test_refusals_by_the_server_are_reported(jumbe: Jumbe) -> None:
    data_dir, port = jumbe.settings.data_dir, jumbe.http_port
    too_long = await asyncio.to_thread(
        run_cli, data_dir, port, HANDSET, "--offline", "--for", "1e9"
    )
    assert too_long.exit_code == 2
    assert too_long.stderr.startswith("error: simulator answered 400: for_seconds Input should ")

    (data_dir / "simulator.token").write_text("not-the-token")
    stale = await asyncio.to_thread(run_cli, data_dir, port, HANDSET, "--online")
    assert stale.exit_code == 2
    assert stale.stderr == "error: simulator answered 401: invalid or missing simulator token\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["12345", "--offline"],
            "error: bad device number: msisdn must have 9 to 12 digits, got 5",
        ),
        ([HANDSET], "error: give exactly one of --offline and --online"),
        ([HANDSET, "--offline", "--online"], "error: give exactly one of --offline and --online"),
        ([HANDSET, "--online", "--for", "60"], "error: --for takes a number of seconds above 0"),
        ([HANDSET, "--offline", "--for", "0"], "error: --for takes a number of seconds above 0"),
        ([HANDSET, "--offline", "--for", "nan"], "error: --for takes a number of seconds above 0"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(tmp_path, 9, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_no_server(tmp_path: Path) -> None:
    result = run_cli(tmp_path, 9, HANDSET, "--offline")
    assert result.exit_code == 2
    assert "no running embedded simulator found" in result.stderr
    assert "start `jumbe serve` with the same data dir first" in result.stderr

    (tmp_path / "simulator.token").write_text("left over from an earlier run")
    with socket.socket() as sock:  # a port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli(tmp_path, port, HANDSET, "--offline")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot reach the server at http://127.0.0.1:{port}/")
    assert "(is `jumbe serve` running?)" in result.stderr
