"""Scenario 1, SMPP ingress: durable submit_sm_resp per second, and latency at half load.

    make bench-ingress [ARGS="--count 200000 --sessions 4 --window 100"]

A fresh Jumbe (SQLite, its defaults) and a carrier simulator in its own process;
a load generator in a third process binds several sessions and submits flat out
(each submit_sm_resp means the message is committed). A second, paced run at half
the measured rate gives the accept latency the target is about.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.harness import (
    Node,
    Sampler,
    carrier,
    jumbe,
    percentiles,
    report,
    run_generator,
    wait_drained,
)


def generate(
    node: Node, *, count: int, sessions: int, window: int, rate: float = 0.0, offset: int = 0
) -> dict:
    return run_generator(
        "bench.smpp_load",
        "--port", str(node.smpp_port),
        "--system-id", node.credentials["team_code"],
        "--password", node.credentials["api_token"],
        "--count", str(count), "--sessions", str(sessions), "--window", str(window),
        "--rate", str(rate), "--offset", str(offset),
    )  # fmt: skip


def profile_target() -> None:
    """Keep a server under load for a profiler (py-spy) to watch: see docs/benchmarks.md."""
    import os

    with carrier(receipt_delay=1.0) as smsc, jumbe(smsc) as node:
        print(f"server pid {node.process.pid}", flush=True)
        os.environ["BENCH_SERVER_PID"] = str(node.process.pid)
        time.sleep(1)
        generate(node, count=60_000, sessions=4, window=100)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    env = {"JUMBE_SQLITE_SYNCHRONOUS": args.synchronous}
    with carrier(receipt_delay=1.0) as smsc, jumbe(smsc, env=env) as node:
        generate(node, count=2_000, sessions=args.sessions, window=args.window)  # warm up
        with Sampler(node.process.pid) as busy:
            flat = generate(
                node, count=args.count, sessions=args.sessions, window=args.window, offset=10_000
            )
        wait_drained(node)  # the paced run starts on a quiet pipeline
        time.sleep(2)  # and after the receipts of the flat-out run
        half_rate = flat["submits_per_second"] / 2
        paced = generate(
            node,
            count=min(args.count, int(half_rate * 20)),
            sessions=args.sessions,
            window=args.window,
            rate=half_rate,
            offset=20_000_000,
        )
    report(
        "smpp_ingress",
        {
            "command": "make bench-ingress ARGS=" + repr(" ".join(sys.argv[1:])),
            "messages": flat["submitted"],
            "refused": flat["refused"],
            "submits_per_second": flat["submits_per_second"],
            "latency_flat_out": percentiles(flat["latencies"]),
            "half_load_rate": round(half_rate, 1),
            "latency_at_half_load": percentiles(paced["latencies"]),
            "server_cpu_percent": round(busy.cpu_percent, 1),
            "server_peak_rss_mb": round(busy.peak_rss / 2**20, 1),
            "generator_cpu_percent": flat["generator_cpu_percent"],
            "sessions": args.sessions,
            "window": args.window,
            "sqlite_synchronous": args.synchronous,
        },
    )


if __name__ == "__main__":
    main()
