"""Scenario 5, REST single sends: requests per second with many concurrent clients.

    make bench-rest [ARGS="--count 30000 --connections 64"]

Every POST /api/v1/messages is authenticated, validated, billed and committed
before its 200. A second, paced run at half the measured rate gives the p99
accept latency at half load.
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
    node: Node, *, count: int, connections: int, rate: float = 0.0, offset: int = 0
) -> dict:
    return run_generator(
        "bench.http_load", "--port", str(node.http_port),
        "--token", node.credentials["api_token"], "--count", str(count),
        "--connections", str(connections), "--rate", str(rate), "--offset", str(offset),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with carrier(receipt_delay=1.0) as smsc, jumbe(smsc) as node:
        generate(node, count=2_000, connections=args.connections)  # warm up
        with Sampler(node.process.pid) as busy:
            flat = generate(node, count=args.count, connections=args.connections, offset=10_000)
        wait_drained(node)
        time.sleep(2)
        half = flat["requests_per_second"] / 2
        paced = generate(
            node,
            count=min(args.count, int(half * 20)),
            connections=args.connections,
            rate=half,
            offset=20_000_000,
        )
    report(
        "rest_sends",
        {
            "command": "make bench-rest ARGS=" + repr(" ".join(sys.argv[1:])),
            "requests": flat["requests"],
            "status_codes": flat["codes"],
            "requests_per_second": flat["requests_per_second"],
            "latency_flat_out": percentiles(flat["latencies"]),
            "half_load_rate": round(half, 1),
            "latency_at_half_load": percentiles(paced["latencies"]),
            "server_cpu_percent": round(busy.cpu_percent, 1),
            "server_peak_rss_mb": round(busy.peak_rss / 2**20, 1),
            "generator_cpu_percent": flat["generator_cpu_percent"],
            "connections": args.connections,
        },
    )


if __name__ == "__main__":
    main()
