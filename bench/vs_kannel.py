"""Jumbe against Kannel: the same load, the same carrier, callbacks to the same receiver.

    make bench-vs-kannel [ARGS="--count 20000 --clients 10"]

Kannel is Debian's package (installed with ``apt-get install -y kannel`` when missing;
where that cannot be done the benchmark says so and exits 0). It runs as an operator
runs it: bearerbox with one SMPP SMSC (a transceiver bind, ``max-pending-submits = 50``)
and smsbox with a ``sendsms`` user, from a kannel.conf generated in a temp dir, with
in-memory DLR storage and no message store (the example configuration's defaults).
Each ``sendsms`` asks for ``dlr-mask`` 27 (delivered, undelivered, SMSC submit, SMSC
reject) with a ``dlr-url`` naming the message: two callbacks per delivered message,
the SMSC's acceptance and the delivery, as Jumbe's ``sent`` and ``delivered``.

Both face a fresh carrier simulator with the same settings (one bind, 50 outstanding
submits, receipts after 1 s) and the same callback receiver; Kannel runs first, then
Jumbe (bench/callbacks.py's phase 2), and the ratio is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.callbacks import (
    CARRIER,
    carrier_alone,
    fresh_jumbe,
    load_options,
    parse_env,
    receiver_alone,
    until_callbacks,
    with_callbacks,
)
from bench.harness import Carrier, Receiver, callback_receiver, carrier, free_port, report

SENDSMS_USER, SENDSMS_PASSWORD = "bench", "bench"

KANNEL_CONF = """\
group = core
admin-port = {admin_port}
admin-password = bench
status-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
box-allow-ip = "127.0.0.1"
log-file = "{dir}/bearerbox.log"
log-level = 3
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = carrier
host = 127.0.0.1
port = {carrier_port}
transceiver-mode = true
smsc-username = {system_id}
smsc-password = {password}
system-type = ""
max-pending-submits = {window}

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms_port}
log-file = "{dir}/smsbox.log"
log-level = 3

group = sendsms-user
username = {user}
password = {user_password}
max-messages = 10
"""


def kannel_available() -> str | None:
    """None when bearerbox and smsbox are there (installed now if need be), else why not."""
    if shutil.which("bearerbox") and shutil.which("smsbox"):
        return None
    if not shutil.which("apt-get"):
        return "Kannel is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return "Kannel is not installed; installing it needs root: apt-get install -y kannel"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "kannel"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return "apt-get install kannel failed: " + done.stderr.strip()[-500:]
    if shutil.which("bearerbox") and shutil.which("smsbox"):
        return None
    return "the kannel package installed no bearerbox/smsbox"


@dataclass
class Kannel:
    bearerbox: subprocess.Popen[bytes]
    smsbox: subprocess.Popen[bytes]
    admin_port: int
    sendsms_port: int
    upstream: Carrier

    def dlr_counts(self) -> str:
        """bearerbox's own count of delivery reports, from its status page."""
        lines = _status(self.admin_port).splitlines()
        return next((line.strip() for line in lines if line.startswith("DLR: rec")), "")


@contextmanager
def kannel(upstream: Carrier) -> Iterator[Kannel]:
    """bearerbox bound to the carrier, then smsbox; both stopped (SIGTERM) afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="kannel-bench-"))
    admin_port, sendsms_port = free_port(), free_port()
    config = directory / "kannel.conf"
    config.write_text(
        KANNEL_CONF.format(
            dir=directory,
            admin_port=admin_port,
            smsbox_port=free_port(),
            carrier_port=upstream.smpp_port,
            system_id=upstream.system_id,
            password=upstream.password,
            window=CARRIER["window"],
            sendsms_port=sendsms_port,
            user=SENDSMS_USER,
            user_password=SENDSMS_PASSWORD,
        )
    )
    started: list[subprocess.Popen[bytes]] = []
    try:
        bearerbox = _box("bearerbox", config, started)
        _wait(lambda: "online" in _smsc_line(admin_port), "Kannel's SMSC to bind", bearerbox)
        smsbox = _box("smsbox", config, started)
        _wait(lambda: "smsbox:(none)" in _status(admin_port), "smsbox to connect", smsbox)
        _wait(lambda: _listening(sendsms_port), "smsbox's sendsms port", smsbox)
        yield Kannel(bearerbox, smsbox, admin_port, sendsms_port, upstream)
    finally:
        for box in reversed(started):
            box.terminate()
            try:
                box.wait(30)
            except subprocess.TimeoutExpired:
                box.kill()
                box.wait()


def _box(
    name: str, config: Path, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """Start a Kannel box; -v 4 keeps only errors on the console (its default: every debug line)."""
    box = subprocess.Popen(
        [name, "-v", "4", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started.append(box)
    return box


def _status(admin_port: int) -> str:
    try:
        answer = httpx.get(
            f"http://127.0.0.1:{admin_port}/status.txt", params={"password": "bench"}, timeout=10
        )
    except httpx.HTTPError:
        return ""
    return answer.text


def _smsc_line(admin_port: int) -> str:
    return next((line for line in _status(admin_port).splitlines() if "SMPP:" in line), "")


def _listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    except httpx.HTTPError:
        return False
    return True


def _wait(ready: Any, what: str, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Kannel exited while waiting for {what}")
        if ready():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def against_kannel(
    boxes: Kannel, receiver: Receiver, *, count: int, clients: int, stall: float
) -> dict[str, Any]:
    load = [
        "bench.http_load", "--api", "kannel", "--port", str(boxes.sendsms_port),
        "--username", SENDSMS_USER, "--token", SENDSMS_PASSWORD,
        "--count", str(count), "--connections", str(clients),
        "--callback-url", f"{receiver.url}/kannel",
    ]  # fmt: skip
    servers = {
        "bearerbox": boxes.bearerbox.pid,
        "smsbox": boxes.smsbox.pid,
        "carrier": boxes.upstream.process.pid,
    }
    result = until_callbacks(receiver, load, ok="202", servers=servers, stall=stall)
    result["kannel_status"] = boxes.dlr_counts()
    return result


def main() -> None:
    args = load_options(__doc__).parse_args()
    if args.smoke:
        args.count = min(args.count, 300)
    why_not = kannel_available()
    if why_not:
        print(f"bench-vs-kannel skipped: {why_not}")
        return
    env = parse_env(args.env)
    with callback_receiver() as receiver:
        alone = {
            "receiver": receiver_alone(receiver, min(20_000, 10 * args.count)),
            "carrier": carrier_alone(args.count),
        }
        with carrier(**CARRIER) as upstream, kannel(upstream) as boxes:
            theirs = against_kannel(
                boxes, receiver, count=args.count, clients=args.clients, stall=args.stall
            )
            theirs["carrier"] = upstream.stats()
        with fresh_jumbe(env) as node:
            ours = with_callbacks(
                node, receiver, count=args.count, clients=args.clients, rate=0.0,
                stall=args.stall,
            )  # fmt: skip
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "kannel"], capture_output=True, text=True
    ).stdout
    report(
        "vs_kannel",
        {
            "command": "make bench-vs-kannel ARGS=" + repr(" ".join(sys.argv[1:])),
            "messages": args.count,
            "clients": args.clients,
            "carrier": CARRIER | {"binds": 1},
            "kannel_version": version or "unknown",
            "alone": alone,
            "kannel": theirs,
            "jumbe": ours,
            "jumbe_env": env,
            "ratio_accepted": round(ours["accepted_per_second"] / theirs["accepted_per_second"], 3),
            "ratio_end_to_end": round(
                ours["end_to_end_per_second"] / theirs["end_to_end_per_second"], 3
            ),
        },
    )


if __name__ == "__main__":
    main()
