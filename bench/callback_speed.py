"""Callbacks at pipeline speed: REST sends with and without callback_url, end to end.

    make bench-callback-speed [ARGS="--count 20000 --connections 32"]

One Jumbe and a carrier simulator in its own process (receipt after 1 s), a
callback receiver in its own process (bench/callback_receiver.py). Reported:

- end to end without callbacks: messages/s from the first send to the last receipt;
- end to end with callbacks: to the last final callback received (target >= 90%);
- callback lag (status change to arrival) at half that rate: p50, p99 (target p99 <= 1 s);
- isolation: one receiver's rate next to a second fast one, a 5 s one, and a dead one
  (target: it changes by less than 10%).

On a machine shared with other work the rates wander by tens of percent from one
run to the next, so each measurement is taken ``--rounds`` times, the runs to be
compared interleaved, and the medians reported with every round's values.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
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
    metric,
    percentiles,
    report,
    start_generator,
)

ENV = {"JUMBE_CALLBACKS_ALLOW_PRIVATE": "true"}  # the receivers are on loopback


def finals_at(receiver: Receiver, n: int) -> float:
    """When the receiver had ``n`` final callbacks (a stall of two minutes is an error)."""
    got = receiver.wait_for(n, n)
    if got["finals"] < n:
        raise TimeoutError(f"{got['finals']} of {n} final callbacks")
    return time.monotonic()


def load(node: Node, count: int, connections: int, offset: int, url: str = "", rate: float = 0):
    return start_generator(
        "bench.http_load", "--port", str(node.http_port),
        "--token", node.credentials["api_token"], "--count", str(count),
        "--connections", str(connections), "--offset", str(offset),
        "--callback-url", url, "--rate", str(rate),
    )  # fmt: skip


def plain_run(node: Node, count: int, connections: int, offset: int) -> float:
    base = metric(node, "jumbe_receipts_total")
    started = time.monotonic()
    sent = collect(load(node, count, connections, offset))
    count = sent["codes"]["200"]
    assert sent["requests"] == count, sent["codes"]
    while metric(node, "jumbe_receipts_total") < base + count:
        time.sleep(0.1)
    return count / (time.monotonic() - started)


def callback_run(node: Node, count: int, connections: int, offset: int) -> tuple[float, Any]:
    with callback_receiver() as receiver:
        started = time.monotonic()
        sent = collect(load(node, count, connections, offset, receiver.url))
        count = sent["codes"]["200"]
        assert sent["requests"] == count, sent["codes"]
        ended = finals_at(receiver, count)
        return count / (ended - started), receiver.stats()


def isolation_run(count: int, connections: int, receipt_delay: float, other: float) -> float:
    """The rate of a fast receiver's final callbacks while another receiver behaves as told
    (a fresh Jumbe each time, so no run inherits another's retries)."""
    with (
        carrier(receipt_delay=receipt_delay, window=50) as smsc,
        jumbe(smsc, env=ENV, binds=1) as node,
    ):
        plain_run(node, 1_000, connections, 0)  # warm up
        return _isolation(node, count, connections, 1_000_000, other)


def _isolation(node: Node, count: int, connections: int, offset: int, other: float) -> float:
    """``other``: the second receiver's answer delay in seconds (-1: it never answers)."""
    with callback_receiver() as fast, callback_receiver(other) as second:
        started = time.monotonic()
        a = load(node, count, connections // 2, offset, fast.url)
        b = load(node, count, connections // 2, offset + 5_000_000, second.url)
        count = collect(a)["codes"]["200"]
        collect(b)
        return count / (finals_at(fast, count) - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--receipt-delay", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, c = args.count, args.connections
    plain: list[float] = []
    with_callbacks: list[float] = []
    with (
        Contention() as others,
        carrier(receipt_delay=args.receipt_delay, window=50) as smsc,
        jumbe(smsc, env=ENV, binds=1) as node,
    ):
        plain_run(node, 2_000, c, 0)  # warm up
        with Sampler(node.process.pid) as busy:
            for r in range(args.rounds):
                plain.append(plain_run(node, n, c, 1_000_000 * (2 * r + 1)))
                with_callbacks.append(callback_run(node, n, c, 1_000_000 * (2 * r + 2))[0])
        half = statistics.median(with_callbacks) / 2
        paced_count = min(n, int(half * 20))
        with callback_receiver() as receiver:
            paced = collect(load(node, paced_count, c, 90_000_000, receiver.url, rate=half))
            finals_at(receiver, paced["codes"]["200"])
            lags = receiver.stats(lags=True)["lags"]
    each = n // 2
    beside: dict[str, list[float]] = {"fast": [], "5s": [], "dead": []}
    for _ in range(args.rounds):
        for name, other in (("fast", 0.0), ("5s", 5.0), ("dead", -1.0)):
            beside[name].append(isolation_run(each, c, args.receipt_delay, other))
    med = {k: statistics.median(v) for k, v in beside.items()}
    ratios = [w / p for w, p in zip(with_callbacks, plain, strict=True)]
    report(
        "callback_speed",
        {
            "command": "python -m bench.callback_speed " + " ".join(sys.argv[1:]),
            "messages_per_run": n,
            "rounds": args.rounds,
            "end_to_end_without_callbacks_per_s": [round(x, 1) for x in plain],
            "end_to_end_with_callbacks_per_s": [round(x, 1) for x in with_callbacks],
            "ratio_with_to_without": [round(x, 3) for x in ratios],
            "ratio_median": round(statistics.median(ratios), 3),
            "half_load_rate": round(half, 1),
            "callback_lag_at_half_load": percentiles(lags),
            "fast_receiver_rate_beside": {k: [round(x, 1) for x in v] for k, v in beside.items()},
            "change_beside_5s_median": round(med["5s"] / med["fast"] - 1, 3),
            "change_beside_dead_median": round(med["dead"] / med["fast"] - 1, 3),
            "server_cpu_percent": round(busy.cpu_percent, 1),
            "receipt_delay_s": args.receipt_delay,
            "other_processes_cpu_percent": round(others.cpu_percent, 1),
        },
    )


if __name__ == "__main__":
    main()
