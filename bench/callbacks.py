"""Callbacks: REST sends with ``callback_url``, end to end until the final callback arrives.

    make bench-callbacks [ARGS="--count 20000 --clients 10"]

As an operator runs it: ``jumbe serve`` in its own process (fresh data dir, an account
with enough units) wired to the carrier simulator in its own process, configured as in
the Kannel comparison (one bind, 50 outstanding submits, receipts after 1 s), and a
callback receiver in a third process (bench/callback_receiver.py) that counts the
callbacks per message. The phases, each on a fresh Jumbe and carrier:

1. the receiver alone, fed Jumbe-shaped callbacks flat out, and the carrier simulator
   alone, fed by a lean SMPP client, to show neither is the limit;
2. ``--count`` sends from ``--clients`` keep-alive clients with ``callback_url``:
   accepted/s, and the sustained end-to-end rate, first send to last final callback;
3. the same sends without ``callback_url``: first send to the last final status
   recorded (Jumbe's status-change counter), Jumbe's own end-to-end rate;
4. paced sends at half the rate of 2 for ``--half-seconds``: the lag from each status
   change (the callback's ``updated_at``) to the callback's arrival, p50 and p99.

``--slow-receiver 5`` adds a phase where one client in ten names a second receiver
that answers after 5 s (``-1``: never answers); it reports the first receiver's rate
against phase 2. Every phase records the CPU other processes used meanwhile and the
load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench.harness import (
    Contention,
    Node,
    Receiver,
    Sampler,
    callback_receiver,
    carrier,
    collect,
    jumbe,
    loadavg,
    metric,
    percentiles,
    report,
    run_generator,
    start_generator,
)

CALLBACKS_PER_MESSAGE = 2  # sent, then delivered (or failed)
# The carrier both systems face in the Kannel comparison: one bind with 50 submits
# outstanding, receipts after 1 s; the password fits SMPP's 8 octets (Kannel cuts longer).
CARRIER: dict[str, Any] = {"receipt_delay": 1.0, "window": 50, "password": "benchpw"}
CONNECTOR: dict[str, Any] = {"binds": 1, "window": 50}
FINAL_STATUSES = ("delivered", "failed", "expired")


@contextmanager
def fresh_jumbe(env: dict[str, str]) -> Iterator[Node]:
    with carrier(**CARRIER) as upstream, jumbe(upstream, env=env, **CONNECTOR) as node:
        yield node


def rest_load(
    node: Node, *, count: int, clients: int, rate: float = 0.0, callback_url: str = ""
) -> list[str]:
    return [
        "bench.http_load", "--api", "rest", "--port", str(node.http_port),
        "--token", node.credentials["api_token"], "--count", str(count),
        "--connections", str(clients), "--rate", str(rate), "--callback-url", callback_url,
    ]  # fmt: skip


def until_callbacks(
    receiver: Receiver,
    load: list[str],
    *,
    ok: str,
    servers: dict[str, int],
    stall: float,
) -> dict[str, Any]:
    """Run one load generator and wait for every accepted message's final callback.

    ``ok`` is the status code of an accepted send; ``servers`` the processes whose CPU
    is reported. End to end is first send to the last first-time final callback.
    """
    receiver.reset()
    samplers = {name: Sampler(pid) for name, pid in servers.items()}
    samplers["receiver"] = Sampler(receiver.process.pid)
    load_before = loadavg()
    with Contention() as others, ExitStack() as sampling:
        for sampler in samplers.values():
            sampling.enter_context(sampler)
        sent = run_generator(*load)
        accepted = sent["codes"].get(ok, 0)
        got = receiver.wait_for(accepted, CALLBACKS_PER_MESSAGE * accepted, stall)
    elapsed = got["last_final_at"] - sent["started_at"]
    return {
        "accepted": accepted,
        "status_codes": sent["codes"],
        "accepted_per_second": sent["requests_per_second"],
        "accept_latency": percentiles(sent["latencies"]),
        "seconds_to_last_final_callback": round(elapsed, 2),
        "end_to_end_per_second": round(got["finals"] / elapsed, 1) if elapsed > 0 else 0.0,
        "callbacks": {
            "received": got["callbacks"],
            "expected": CALLBACKS_PER_MESSAGE * accepted,
            "messages_final": got["finals"],
            "missing_finals": accepted - got["finals"],
            "by_state": got["by_state"],
            "duplicates": got["duplicates"],
            "out_of_order": got["out_of_order"],
            "unreadable": got["bad"],
        },
        "cpu_percent": {name: round(s.cpu_percent, 1) for name, s in samplers.items()}
        | {"generator": sent["generator_cpu_percent"]},
        "others_cpu_percent": round(others.cpu_percent, 1),
        "steal_percent": round(others.steal_percent, 1),
        "loadavg_before_after": [load_before, loadavg()],
    }


def with_callbacks(
    node: Node, receiver: Receiver, *, count: int, clients: int, rate: float, stall: float
) -> dict[str, Any]:
    load = rest_load(
        node, count=count, clients=clients, rate=rate, callback_url=f"{receiver.url}/jumbe"
    )
    servers = {"jumbe": node.process.pid, "carrier": carrier_pid(node)}
    result = until_callbacks(receiver, load, ok="200", servers=servers, stall=stall)
    result["carrier"] = carrier_stats(node)
    return result


def carrier_stats(node: Node) -> dict[str, Any]:
    assert node.upstream is not None
    return node.upstream.stats()


def carrier_pid(node: Node) -> int:
    assert node.upstream is not None
    return node.upstream.process.pid


def finals(node: Node) -> float:
    return sum(
        metric(node, "jumbe_message_status_changes_total", f'status="{s}"') for s in FINAL_STATUSES
    )


def without_callbacks(node: Node, *, count: int, clients: int, stall: float) -> dict[str, Any]:
    """Jumbe's own end-to-end rate: first send to the last final status recorded."""
    before = finals(node)
    load_before = loadavg()
    with (
        Contention() as others,
        Sampler(node.process.pid) as server,
        Sampler(carrier_pid(node)) as upstream,
    ):
        sent = run_generator(*rest_load(node, count=count, clients=clients))
        accepted = sent["codes"].get("200", 0)
        reached, progress_at = before, time.monotonic()
        while reached < before + accepted:
            time.sleep(0.1)
            now = finals(node)
            if now != reached:
                reached, progress_at = now, time.monotonic()
            elif time.monotonic() - progress_at > stall:
                break
        done_at = time.time()
    elapsed = done_at - sent["started_at"]
    return {
        "accepted": accepted,
        "status_codes": sent["codes"],
        "accepted_per_second": sent["requests_per_second"],
        "seconds_to_last_final_status": round(elapsed, 2),
        "end_to_end_per_second": round((reached - before) / elapsed, 1),
        "missing_finals": int(before + accepted - reached),
        "carrier": carrier_stats(node),
        "cpu_percent": {
            "jumbe": round(server.cpu_percent, 1),
            "carrier": round(upstream.cpu_percent, 1),
            "generator": sent["generator_cpu_percent"],
        },
        "others_cpu_percent": round(others.cpu_percent, 1),
        "loadavg_before_after": [load_before, loadavg()],
    }


def half_load(
    node: Node, receiver: Receiver, *, rate: float, seconds: float, clients: int, stall: float
) -> dict[str, Any]:
    """Paced sends; the lag from each status change to its callback."""
    count = max(clients, int(rate * seconds))
    result = with_callbacks(
        node, receiver, count=count, clients=min(clients, count), rate=rate, stall=stall
    )
    samples = receiver.stats(lags=True)
    result["rate_asked"] = round(rate, 1)
    result["lag_status_change_to_callback"] = percentiles(samples["lags"]) | {
        "max_ms": round(max(samples["lags"], default=0.0) * 1000, 1)
    }
    result["lag_final_callbacks"] = percentiles(samples["final_lags"])
    return result


def receiver_alone(receiver: Receiver, count: int) -> dict[str, Any]:
    """The receiver fed Jumbe-shaped callbacks flat out over 50 connections."""
    receiver.reset()
    with Sampler(receiver.process.pid) as busy:
        sent = run_generator(
            "bench.http_load", "--api", "callback", "--port", str(receiver.port),
            "--count", str(count), "--connections", "50",
        )  # fmt: skip
    counted = receiver.stats()["finals"]
    receiver.reset()
    return {
        "callbacks_per_second": sent["requests_per_second"],
        "counted": counted,
        "receiver_cpu_percent": round(100 * busy.cpu_seconds / sent["seconds"], 1),
        "receiver_cpu_us_per_callback": round(1e6 * busy.cpu_seconds / count, 1),
        "generator_cpu_percent": sent["generator_cpu_percent"],
    }


def carrier_alone(count: int) -> dict[str, Any]:
    """The carrier simulator fed by a lean SMPP client on one bind, window 50, flat out."""
    with carrier(**CARRIER) as upstream, Sampler(upstream.process.pid) as busy:
        sent = run_generator(
            "bench.smpp_load", "--port", str(upstream.smpp_port),
            "--system-id", upstream.system_id, "--password", upstream.password,
            "--sessions", "1", "--window", str(CARRIER["window"]),
            "--count", str(count), "--receipts",
        )  # fmt: skip
    return {
        "submits_per_second": sent["submits_per_second"],
        "receipts": sent["receipts"],
        "seconds_to_last_receipt": sent["receipts_done_seconds"],
        "carrier_cpu_percent": round(100 * busy.cpu_seconds / sent["receipts_done_seconds"], 1),
    }


def slow_neighbour(
    node: Node, fast: Receiver, slow: Receiver, *, count: int, clients: int, stall: float
) -> dict[str, Any]:
    """One client in ten names the slow receiver; the fast receiver's rate is what counts."""
    slow_clients = max(1, clients // 10)
    slow_count = count * slow_clients // clients
    fast.reset()
    slow.reset()
    load_before = loadavg()
    with Contention() as others:
        slow_load = start_generator(
            *rest_load(
                node, count=slow_count, clients=slow_clients, callback_url=f"{slow.url}/jumbe"
            )
        )
        sent = run_generator(
            *rest_load(
                node,
                count=count - slow_count,
                clients=clients - slow_clients,
                callback_url=f"{fast.url}/jumbe",
            )
        )
        collect(slow_load)
        accepted = sent["codes"].get("200", 0)
        got = fast.wait_for(accepted, CALLBACKS_PER_MESSAGE * accepted, stall)
    elapsed = got["last_final_at"] - sent["started_at"]
    return {
        "fast_receiver_messages": accepted,
        "fast_receiver_finals": got["finals"],
        "fast_receiver_end_to_end_per_second": round(got["finals"] / elapsed, 1),
        "slow_receiver_messages": slow_count,
        "slow_receiver_callbacks_so_far": slow.stats()["callbacks"],
        "others_cpu_percent": round(others.cpu_percent, 1),
        "loadavg_before_after": [load_before, loadavg()],
    }


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def load_options(description: str | None) -> argparse.ArgumentParser:
    """The options this scenario shares with the Kannel comparison."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--count", type=int, default=20_000, help="messages per phase")
    parser.add_argument("--clients", type=int, default=10, help="concurrent keep-alive clients")
    parser.add_argument("--stall", type=float, default=120.0, help="give up after so long idle")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for jumbe serve")
    parser.add_argument("--smoke", action="store_true", help="tiny counts: checks the harness")
    return parser


def main() -> None:
    parser = load_options(__doc__)
    parser.add_argument("--rate", type=float, default=0.0, help="pace phase 2 (0: flat out)")
    parser.add_argument("--half-seconds", type=float, default=30.0, help="length of phase 4")
    parser.add_argument("--slow-receiver", type=float, help="add the slow-receiver phase")
    args = parser.parse_args()
    if args.smoke:
        args.count, args.half_seconds = min(args.count, 300), min(args.half_seconds, 3.0)
    env = parse_env(args.env)
    result: dict[str, Any] = {
        "command": "make bench-callbacks ARGS=" + repr(" ".join(sys.argv[1:])),
        "messages": args.count,
        "clients": args.clients,
        "carrier": CARRIER | {"binds": 1},
        "jumbe_env": env,
    }
    with callback_receiver() as receiver:
        result["receiver_alone"] = receiver_alone(receiver, min(20_000, 10 * args.count))
        result["carrier_alone"] = carrier_alone(args.count)
        with fresh_jumbe(env) as node:
            flat = with_callbacks(
                node, receiver, count=args.count, clients=args.clients, rate=args.rate,
                stall=args.stall,
            )  # fmt: skip
        result["with_callbacks"] = flat
        with fresh_jumbe(env) as node:
            own = without_callbacks(node, count=args.count, clients=args.clients, stall=args.stall)
        result["without_callbacks"] = own
        result["with_over_without"] = round(
            flat["end_to_end_per_second"] / own["end_to_end_per_second"], 3
        )
        with fresh_jumbe(env) as node:
            result["half_load"] = half_load(
                node, receiver, rate=flat["end_to_end_per_second"] / 2,
                seconds=args.half_seconds, clients=args.clients, stall=args.stall,
            )  # fmt: skip
        if args.slow_receiver is not None:
            with callback_receiver(args.slow_receiver) as slow, fresh_jumbe(env) as node:
                neighbour = slow_neighbour(
                    node, receiver, slow, count=args.count, clients=args.clients,
                    stall=args.stall,
                )  # fmt: skip
            neighbour["slow_receiver_delay_s"] = args.slow_receiver
            neighbour["change_against_with_callbacks"] = round(
                neighbour["fast_receiver_end_to_end_per_second"] / flat["end_to_end_per_second"]
                - 1,
                3,
            )
            result["slow_receiver"] = neighbour
    report("callbacks", result)


if __name__ == "__main__":
    main()
