"""What every benchmark scenario shares: a fresh Jumbe and carrier, resource sampling, reports.

Jumbe runs as `python -m jumbe serve` in its own process with its own data dir, so
what is measured is the product as deployed; the carrier simulator runs in a second
process (`jumbe simulate carrier`); load generators run in the benchmark's process or
in their own, and report their own CPU so a saturated generator is visible.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

RESULTS = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Carrier:
    process: subprocess.Popen[bytes]
    smpp_port: int
    system_id: str = "bench"
    password: str = "bench-secret"
    control_port: int = 0

    @property
    def url(self) -> str:
        return f"smpp://{self.system_id}:{self.password}@127.0.0.1:{self.smpp_port}"

    def stats(self) -> dict[str, Any]:
        """The simulator's counters (binds, submits, receipts sent …)."""
        answer = httpx.get(
            f"http://127.0.0.1:{self.control_port}/simulator/stats",
            headers={"X-Simulator-Token": "bench"},
            timeout=10,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    data_dir: Path
    http_port: int
    smpp_port: int
    credentials: dict[str, Any] = field(default_factory=dict)
    upstream: Carrier | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "jumbe", *args, "--data-dir", str(self.data_dir)],
            env=_env(self.data_dir),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout


def _env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUMBE_")}
    env.update({"JUMBE_DATA_DIR": str(data_dir), "JUMBE_LOG_LEVEL": "WARNING"})
    env.update(extra or {})
    return env


@contextmanager
def carrier(
    receipt_delay: float = 0.5, window: int = 10, password: str = "bench-secret"
) -> Iterator[Carrier]:
    port, control = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jumbe", "simulate", "carrier",
            "--port", str(port), "--control-port", str(control),
            "--system-id", "bench", "--password", password,
            "--receipt-delay", str(receipt_delay), "--token", "bench",
            "--window", str(window),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_port(port, process)
    try:
        yield Carrier(process, port, password=password, control_port=control)
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def jumbe(
    upstream: Carrier,
    *,
    env: dict[str, str] | None = None,
    units: int = 10_000_000,
    binds: int = 4,
    window: int = 100,
) -> Iterator[Node]:
    """A fresh Jumbe wired to the simulated carrier, with a demo account holding ``units``."""
    data_dir = Path(tempfile.mkdtemp(prefix="jumbe-bench-"))
    (data_dir / "jumbe.toml").write_text(
        f'[[connectors]]\nname = "carrier"\nurl = "{upstream.url}"\ntps = 100000\n'
        f"window = {window}\nbinds = {binds}\n"
    )
    http_port, smpp_port = free_port(), free_port()
    settings = {
        "JUMBE_HTTP_PORT": str(http_port),
        "JUMBE_SMPP_PORT": str(smpp_port),
        "JUMBE_SMPP_WINDOW": "100",
        "JUMBE_SMPP_MAX_SESSIONS": "50",
        "JUMBE_SMPP_SESSION_TPS": "1000000",
        "JUMBE_DEMO_UNITS": "0",
        **(env or {}),
    }
    # the log goes to a file: a pipe nobody reads blocks the server once it is full
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jumbe", "serve"],
            env=_env(data_dir, settings),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    node = Node(process, data_dir, http_port, smpp_port, upstream=upstream)
    try:
        _wait_ready(node)
        node.credentials = json.loads((data_dir / "demo-credentials.json").read_text())
        if units:
            node.cli("accounts", "credit", node.credentials["team_code"], str(units))
        yield node
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Receiver:
    """The callback receiver (bench/callback_receiver.py) in its own process."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self, lags: bool = False) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/stats", params={"lags": "1"} if lags else None, timeout=30)
        result: dict[str, Any] = answer.json()
        return result

    def reset(self) -> None:
        httpx.post(f"{self.url}/reset", timeout=10).raise_for_status()

    def wait_for(self, finals: int, callbacks: int, stall: float = 120) -> dict[str, Any]:
        """Wait until ``finals`` messages reached a final state and ``callbacks`` arrived.

        Gives up when nothing new arrived for ``stall`` seconds, so a lost callback
        shows as a shortfall in the result instead of a hang.
        """
        seen, progress_at = -1, time.monotonic()
        while True:
            now = self.stats()
            if now["finals"] >= finals and now["callbacks"] >= callbacks:
                return now
            if now["callbacks"] != seen:
                seen, progress_at = now["callbacks"], time.monotonic()
            elif time.monotonic() - progress_at > stall:
                return now
            time.sleep(0.2)


@contextmanager
def callback_receiver(delay: float = 0.0) -> Iterator[Receiver]:
    """A callback receiver on a free port; ``delay`` > 0 answers late, -1 never."""
    port = free_port()
    command = ["-m", "bench.callback_receiver", "--port", str(port), "--delay", str(delay)]
    process = subprocess.Popen([sys.executable, *command])
    _wait_port(port, process)
    try:
        yield Receiver(process, port)
    finally:
        process.terminate()
        process.wait(10)


def loadavg() -> str:
    """The machine's 1, 5 and 15 minute load averages, to show a shared machine's load."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _wait_port(port: int, process: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("process exited while starting")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


def _wait_ready(node: Node, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError((node.data_dir / "serve.log").read_text()[-3000:])
        try:
            if httpx.get(f"{node.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("Jumbe did not become ready")


def metric(node: Node, name: str, label: str = "") -> float:
    """One sample from the server's Prometheus page, summed over the series that carry
    ``label`` (e.g. ``status="delivered"``), or over all of them."""
    total = 0.0
    for line in httpx.get(f"{node.base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_drained(node: Node, within: float = 600) -> float:
    """Wait until nothing is queued for the carrier; return how long that took."""
    started = time.monotonic()
    while metric(node, "jumbe_queue_depth") > 0:
        if time.monotonic() - started > within:
            raise TimeoutError("the queue did not drain")
        time.sleep(0.2)
    return time.monotonic() - started


def run_generator(module: str, *args: str) -> dict[str, Any]:
    """Run a load generator process to the end and return its JSON result."""
    return collect(start_generator(module, *args))


def start_generator(module: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    out = Path(tempfile.mkstemp(prefix="jumbe-bench-", suffix=".json")[1])
    process = subprocess.Popen([sys.executable, "-m", module, *args, "--out", str(out)])
    return process, out


def collect(started: tuple[subprocess.Popen[bytes], Path]) -> dict[str, Any]:
    process, out = started
    if process.wait() != 0:
        raise RuntimeError(f"load generator failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


class Sampler:
    """Samples a process (and its threads) for CPU time and peak resident memory."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._cpu0 = self._cpu()
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = self._cpu() - self._cpu0
        self.wall_seconds = time.monotonic() - self._t0

    def _cpu(self) -> float:
        t = self.process.cpu_times()
        return float(t.user + t.system)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    @property
    def cpu_percent(self) -> float:
        """Cores used on average: 100 is one core busy all the time."""
        return 100 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


class Contention:
    """CPU used meanwhile by processes other than this benchmark and its children.

    100 is one core. On a shared machine (another session's test suite, say) this
    is what tells a clean run from one whose latencies were queued behind others.
    """

    def __enter__(self) -> Contention:
        self._machine0, self._own0 = self._machine(), self._own()
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._t0
        busy, steal = (b - a for a, b in zip(self._machine0, self._machine(), strict=True))
        others = busy - (self._own() - self._own0)
        self.cpu_percent = max(0.0, 100 * others / wall) if wall else 0.0
        # a virtual machine's CPU taken by its host for others: contention we cannot see
        self.steal_percent = 100 * steal / wall if wall else 0.0

    @staticmethod
    def _machine() -> tuple[float, float]:
        """CPU seconds the machine's processes used (guest time is inside user), and steal."""
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
        return float(busy), float(getattr(t, "steal", 0.0))

    @staticmethod
    def _own() -> float:
        me = psutil.Process()
        mine = me.cpu_times()  # with the children it has waited for (CLI runs, py-spy)
        total = mine.children_user + mine.children_system
        for p in [me, *me.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    if not samples:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def report(scenario: str, result: dict[str, Any]) -> None:
    """Print the result and keep it in bench/results/<scenario>.json."""
    RESULTS.mkdir(exist_ok=True)
    result = {
        "scenario": scenario,
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        **result,
        "machine": machine(),
    }
    (RESULTS / f"{scenario}.json").write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:>{width}}: {value}")
