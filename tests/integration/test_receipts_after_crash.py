"""kill -9 of `jumbe serve` with the embedded carrier while receipts are owed: after a
restart every message reaches its final status within seconds, not after its validity.

The embedded simulator dies with the server; its journal in the data dir keeps the
receipts it owes (a real SMSC keeps them for a rebinding client), and a receipt the
carrier lost altogether is found with query_sm.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from tests.conftest import wait_until
from tests.integration.test_crash_recovery import all_final, free_port, start_server, wait_ready

MESSAGES = 40


async def test_owed_receipts_arrive_after_kill_minus_nine(
    database_url: str, tmp_path: Path
) -> None:
    http_port = free_port()
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "JUMBE_DATA_DIR": str(data_dir),
        "JUMBE_DATABASE_URL": database_url,
        "JUMBE_HTTP_PORT": str(http_port),
        "JUMBE_SMPP_PORT": str(free_port()),
        "JUMBE_SIMULATOR_PORT": str(free_port()),
        "JUMBE_NODE_ID": "receipts-crash-test",
        "JUMBE_DISPATCH_POLL_INTERVAL": "0.2",
        # receipts wait in the carrier long enough for the kill to find them owed
        "JUMBE_SIMULATOR__RECEIPT_DELAY": "4",
        "JUMBE_RECEIPT_QUERY_AFTER": "2",
    }
    base = f"http://127.0.0.1:{http_port}"
    server = start_server(env)
    try:
        await wait_ready(base, server, env)
        token = json.loads((data_dir / "demo-credentials.json").read_text())["api_token"]
        control = {"X-Simulator-Token": (data_dir / "simulator.token").read_text().strip()}
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            # the carrier also loses the receipts of numbers ending in 5 altogether
            lost = await api.put(
                "/simulator/behaviour", json={"lost_receipt_suffixes": ["5"]}, headers=control
            )
            assert lost.status_code == 200
            api.headers["Authorization"] = f"Bearer {token}"
            uuids = []
            for i in range(MESSAGES):
                answer = await api.post(
                    "/api/v1/messages", json={"to": f"07123450{i:02d}", "message": f"m{i}"}
                )
                uuids.append(answer.json()["data"]["uuid"])

            async def all_sent() -> bool:
                sent = await api.get("/api/v1/messages", params={"status": "sent"})
                return bool(sent.json()["data"]["total"] == MESSAGES)

            await wait_until(all_sent, within=20, what="every message handed to the carrier")
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)

    restarted = start_server(env)
    try:
        started = time.monotonic()
        await wait_ready(base, restarted, env)
        async with httpx.AsyncClient(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            finals = await all_final(api, uuids, within=30)
        took = time.monotonic() - started
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(30) == 0
    assert {m["state"] for m in finals} == {"delivered"}
    print(f"all {MESSAGES} final {took:.1f} s after the restart")
