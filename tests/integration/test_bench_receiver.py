"""The callback benchmarks' receiver counts what it is sent, and nothing else.

bench-callbacks and bench-vs-kannel report rates from the receiver's counts, so a
miscount would be a wrong benchmark; the benchmarks themselves are not run here
(minutes long, and `make bench-callbacks ARGS=--smoke` checks them end to end).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from bench.callback_receiver import Tally

ROOT = Path(__file__).resolve().parents[2]


def test_a_message_is_final_once_and_late_or_repeated_states_are_flagged() -> None:
    tally = Tally()
    tally.record("a", "sent", None)
    tally.record("a", "delivered", None)
    tally.record("a", "delivered", None)  # a retry the receiver already had
    tally.record("b", "failed", None)
    tally.record("b", "sent", None)  # arrived after the final one
    assert tally.finals == 2
    assert tally.callbacks == 5
    assert tally.duplicates == 1
    assert tally.out_of_order == 1
    assert tally.states == {"a": ["sent", "delivered"], "b": ["failed", "sent"]}


def test_lag_is_arrival_minus_the_status_change_time() -> None:
    tally = Tally()
    tally.record("a", "delivered", time.time() - 2.0)
    assert tally.final_lags == tally.lags
    assert 2.0 <= tally.lags[0] < 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[str]:
    port = _free_port()
    delay = str(getattr(request, "param", 0.0))
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.callback_receiver", "--port", str(port), "--delay", delay],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/stats", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_counts_every_callback_from_concurrent_keep_alive_senders(
    receiver: str, tmp_path: Path
) -> None:
    out = tmp_path / "load.json"
    port = receiver.rsplit(":", 1)[1]
    subprocess.run(
        [
            sys.executable, "-m", "bench.http_load", "--api", "callback", "--port", port,
            "--count", "1003", "--connections", "7", "--out", str(out),
        ],
        cwd=ROOT,
        check=True,
    )  # fmt: skip
    sent = json.loads(out.read_text())
    stats = httpx.get(f"{receiver}/stats", params={"lags": "1"}).json()
    assert sent["codes"] == {"200": 1003}
    assert (stats["requests"], stats["messages"], stats["finals"]) == (1003, 1003, 1003)
    assert stats["duplicates"] == stats["bad"] == 0
    assert len(stats["final_lags"]) == 1003
    assert all(0 <= lag < 30 for lag in stats["final_lags"])


def test_jumbe_webhooks_and_kannel_dlrs_are_read(receiver: str) -> None:
    changed = datetime.now(UTC) - timedelta(seconds=1)
    body = {"uuid": "m-1", "state": "sent", "updated_at": changed.isoformat()}
    with httpx.Client(base_url=receiver) as client:
        assert client.post("/jumbe", json=body).status_code == 200
        assert client.post("/jumbe", json=body | {"state": "delivered"}).status_code == 200
        assert client.get("/kannel", params={"m": "7", "t": "8"}).status_code == 200  # submit
        assert client.get("/kannel", params={"m": "7", "t": "1"}).status_code == 200  # delivered
        assert client.post("/jumbe", content=b"not json").status_code == 400
        stats = client.get("/stats", params={"lags": "1"}).json()
        assert stats["finals"] == 2
        assert stats["by_state"] == {"sent": 2, "delivered": 2}
        assert stats["bad"] == 1
        assert len(stats["lags"]) == 2  # Kannel's DLRs carry no change time
        assert all(lag >= 1.0 for lag in stats["lags"])
        client.post("/reset")
        assert client.get("/stats").json()["callbacks"] == 0


@pytest.mark.parametrize("receiver", [-1], indirect=True)
def test_a_dead_receiver_counts_but_never_answers_yet_reports_at_once(receiver: str) -> None:
    body = {"uuid": "m-1", "state": "delivered", "updated_at": datetime.now(UTC).isoformat()}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{receiver}/jumbe", json=body, timeout=0.5)
    assert httpx.get(f"{receiver}/stats", timeout=5).json()["finals"] == 1
    assert httpx.post(f"{receiver}/reset", timeout=5).status_code == 200
