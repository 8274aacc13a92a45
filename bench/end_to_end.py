"""Scenario 2, end to end: in over SMPP and REST, out to the carrier, receipts back.

    make bench-e2e [ARGS="--count 100000"]

A fresh Jumbe and a carrier simulator in its own process (receipt after 0.2 s).
Four fifths of the messages come over SMPP with registered_delivery=1 and their
receipts are delivered back to the submitting sessions; one fifth comes over
REST at the same time. Reported: sustained messages per second from the first
submit to the last receipt, and accept-to-delivered time as the SMPP client sees
it (receipt arrival minus submit), which includes the carrier's receipt delay.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.harness import (
    Sampler,
    carrier,
    collect,
    jumbe,
    metric,
    percentiles,
    report,
    start_generator,
    wait_drained,
)

RECEIPT_DELAY = 0.2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--rest-connections", type=int, default=32)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    smpp_count = args.count * 4 // 5
    rest_count = args.count - smpp_count
    env = {"JUMBE_SQLITE_SYNCHRONOUS": args.synchronous}
    with carrier(receipt_delay=RECEIPT_DELAY) as smsc, jumbe(smsc, env=env) as node:
        token = node.credentials["api_token"]
        smpp = start_generator(
            "bench.smpp_load", "--port", str(node.smpp_port),
            "--system-id", node.credentials["team_code"], "--password", token,
            "--count", str(smpp_count), "--sessions", str(args.sessions),
            "--window", str(args.window), "--receipts", "--receipt-wait", "600",
        )  # fmt: skip
        rest = start_generator(
            "bench.http_load", "--port", str(node.http_port),
            "--token", token, "--count", str(rest_count),
            "--connections", str(args.rest_connections), "--offset", "50000000",
        )  # fmt: skip
        started = time.monotonic()
        with Sampler(node.process.pid) as busy, Sampler(smsc.process.pid) as carrier_busy:
            smpp_out = collect(smpp)
            rest_out = collect(rest)
            wait_drained(node)
            while (
                metric(node, "jumbe_receipts_total") < smpp_out["submitted"] + rest_out["requests"]
            ):
                time.sleep(0.2)  # every message's carrier receipt recorded
        elapsed = time.monotonic() - started
        accepted = smpp_out["submitted"] + rest_out["codes"].get("200", 0)
    report(
        "end_to_end",
        {
            "command": "make bench-e2e ARGS=" + repr(" ".join(sys.argv[1:])),
            "messages": accepted,
            "via_smpp": smpp_out["submitted"],
            "via_rest": rest_out["codes"],
            "receipts_to_smpp_clients": smpp_out["receipts"],
            "missing_receipts": smpp_out["missing_receipts"],
            "seconds_first_submit_to_last_receipt": round(elapsed, 1),
            "messages_per_second_sustained": round(accepted / elapsed, 1),
            "accept_to_delivered": percentiles(smpp_out["receipt_latencies"]),
            "carrier_receipt_delay_s": RECEIPT_DELAY,
            "sqlite_synchronous": args.synchronous,
            "smpp_submit_latency": percentiles(smpp_out["latencies"]),
            "rest_latency": percentiles(rest_out["latencies"]),
            "server_cpu_percent": round(busy.cpu_percent, 1),
            "server_peak_rss_mb": round(busy.peak_rss / 2**20, 1),
            "carrier_simulator_cpu_percent": round(carrier_busy.cpu_percent, 1),
            "generator_cpu_percent": {
                "smpp": smpp_out["generator_cpu_percent"],
                "rest": rest_out["generator_cpu_percent"],
            },
        },
    )


if __name__ == "__main__":
    main()
