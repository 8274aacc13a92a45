"""kill -9 with messages in flight: after a restart every acknowledged message ends
final, none is charged twice, resubmissions stay inside the documented window, and
the callback outbox loses nothing: every message's callbacks arrive, in order.

The carrier runs in its own process (``jumbe simulate carrier``) so that it outlives
the crash and its submission log shows every submit_sm it ever received.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.callback_receiver import Receiver
from tests.conftest import wait_until

MESSAGES = 300
CONNECTOR_WINDOW = 10  # the upstream connector's default window
CARRIER_TPS = 100  # the upstream connector's default rate: sending takes ~3 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    smpp_port, control_port = free_port(), free_port()
    log = tmp_path / "submissions.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jumbe",
            "simulate",
            "carrier",
            "--port",
            str(smpp_port),
            "--control-port",
            str(control_port),
            "--system-id",
            "crash",
            "--password",
            "test-password",
            "--receipt-delay",
            "0.5",
            "--token",
            "t0k",
            "--submission-log",
            str(log),
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(
                    f"http://127.0.0.1:{control_port}/simulator/stats",
                    headers={"X-Simulator-Token": "t0k"},
                )
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield smpp_port, control_port, log
    finally:
        process.terminate()
        process.wait(10)


def start_server(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``jumbe serve`` with its log in the data dir's ``serve.log``.

    Not a pipe: nobody reads a pipe while the test runs, and a server that has
    written 64 KiB of log to a full pipe blocks in its next log line, event loop
    and all (the access log fills one in a few hundred polls).
    """
    log = server_log(env)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "jumbe", "serve"], env=env, stdout=sink, stderr=sink
        )


def server_log(env: dict[str, str]) -> Path:
    return Path(env["JUMBE_DATA_DIR"]) / "serve.log"


async def wait_ready(base: str, process: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    async def ready() -> bool:
        if process.poll() is not None:
            log = server_log(env).read_text(errors="replace")
            raise AssertionError(f"server exited: {log[-2000:]}")
        try:
            async with httpx.AsyncClient() as c:
                return (await c.get(f"{base}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(ready, within=30, what="the server to be ready")


async def test_kill_minus_nine_with_messages_in_flight(
    carrier: tuple[int, int, Path], database_url: str, tmp_path: Path
) -> None:
    smpp_port, _control_port, log = carrier
    receiver = Receiver()  # lives in this process: it outlives the server's crash
    await receiver.start()
    try:
        await _crash_and_recover(smpp_port, log, receiver, database_url, tmp_path)
    finally:
        await receiver.close()


async def _crash_and_recover(
    smpp_port: int, log: Path, receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    http_port = free_port()
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "JUMBE_DATA_DIR": str(data_dir),
        "JUMBE_DATABASE_URL": database_url,
        "JUMBE_HTTP_PORT": str(http_port),
        "JUMBE_SMPP_PORT": str(free_port()),
        "JUMBE_UPSTREAM_SMPP": f"smpp://crash:test-password@127.0.0.1:{smpp_port}",
        "JUMBE_NODE_ID": "crash-test",
        "JUMBE_DISPATCH_POLL_INTERVAL": "0.2",
        "JUMBE_CALLBACKS_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    }
    base = f"http://127.0.0.1:{http_port}"
    server = start_server(env)
    await wait_ready(base, server, env)
    token = json.loads((data_dir / "demo-credentials.json").read_text())["api_token"]
    headers = {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
        limits = asyncio.Semaphore(50)

        async def send(i: int) -> str | None:
            async with limits:
                try:
                    answer = await api.post(
                        "/api/v1/messages",
                        json={
                            "to": f"+2547130{i:05d}",
                            "message": f"crash test {i}",
                            "callback_url": receiver.url,
                        },
                    )
                except httpx.HTTPError:
                    return None  # not acknowledged: it owes us nothing
            return answer.json()["data"]["uuid"] if answer.status_code == 200 else None

        sending = [asyncio.create_task(send(i)) for i in range(MESSAGES)]

        def submitted() -> int:
            return len(log.read_text().splitlines()) if log.exists() else 0

        # kill while acceptance, dispatch and receipts are all under way
        await wait_until(lambda: submitted() >= 60, within=30, what="submits to start")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        acknowledged = [u for u in await asyncio.gather(*sending) if u]
    assert 60 <= len(acknowledged) <= MESSAGES

    restarted = start_server(env)
    try:
        await wait_ready(base, restarted, env)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
            finals = await all_final(api, acknowledged, within=60)
            assert {m["state"] for m in finals} == {"delivered"}

            async def unfinished() -> int:
                counts = [
                    (await api.get("/api/v1/messages", params={"status": s})).json()["data"][
                        "total"
                    ]
                    for s in ("queued", "sent")
                ]
                return sum(counts)

            # also those committed just before the kill whose answer never left
            await wait_until(lambda: _zero(unfinished()), within=60, what="nothing left unfinished")
            stored = (await api.get("/api/v1/messages")).json()["data"]["total"]

            # callbacks: each acknowledged message's sent and final, the final after the sent
            # (repeats from the at-least-once window dropped by delivery id)
            await wait_until(
                lambda: all(receiver.by_message().get(u) == [1, 2] for u in acknowledged),
                within=60,
                what="every acknowledged message's callbacks",
            )
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(30) == 0, "a clean shutdown exits 0"

    assert len(acknowledged) <= stored <= len(acknowledged) + 50
    duplicates = await charged_once_and_resent_within(env, log, stored, window=CONNECTOR_WINDOW)
    print(f"acknowledged={len(acknowledged)} stored={stored} resubmitted={duplicates}")


async def charged_once_and_resent_within(
    env: dict[str, str], log: Path, stored: int, *, window: int
) -> int:
    """Check the demo account paid once per stored message (its ledger consistent) and
    the carrier got every message, repeats only inside ``window``; return the repeats."""
    check = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "jumbe", "accounts", "balance", "demo"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"balance: {1000 - stored} units" in check.stdout

    submissions = await asyncio.to_thread(log.read_text)
    per_destination = Counter(
        json.loads(line)["destination_addr"] for line in submissions.splitlines()
    )
    duplicates = sum(n - 1 for n in per_destination.values())
    assert len(per_destination) == stored
    assert duplicates <= window, f"{duplicates} messages were submitted twice"
    return duplicates


async def all_final(
    api: httpx.AsyncClient, uuids: list[str], *, within: float
) -> list[dict[str, object]]:
    """Every message, once none of them is accepted or sent any more."""

    async def final() -> list[dict[str, object]] | None:
        found = []
        for uuid in uuids:
            data = (await api.get(f"/api/v1/messages/{uuid}")).json()["data"]
            if data["state"] in ("accepted", "sent"):
                return None
            found.append(data)
        return found

    return await wait_until(final, within=within, what="every message to be final")  # type: ignore[no-any-return]


async def _zero(count: object) -> bool:
    return await count == 0  # type: ignore[misc]
