"""Prometheus collectors, defined once for the whole process.

Counters count events in this process since it started (the Prometheus way:
rates come from the scraper). Queue depth and connector state are read at
scrape time so they are never stale.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # the *_created series only add noise to every scrape

status_changes = Counter(
    "jumbe_message_status_changes",
    "Status changes messages went through, by the status reached",
    ["status"],
)
messages_accepted = Counter(
    "jumbe_messages_accepted", "Messages accepted for delivery, by source face", ["source"]
)
queue_depth = Gauge("jumbe_queue_depth", "Messages accepted and not yet handed to a carrier")
messages_by_status = Gauge(
    "jumbe_messages", "Stored messages by status (refreshed at most every 10 s)", ["status"]
)
connector_up = Gauge("jumbe_connector_up", "1 when the connector is bound", ["connector"])
connector_binds = Gauge(
    "jumbe_connector_binds", "Binds of the connector up on this node", ["connector"]
)
connector_queue = Gauge("jumbe_connector_queue", "Jobs waiting in a connector", ["connector"])
submit_latency = Histogram(
    "jumbe_submit_latency_seconds",
    "Time from submit_sm to submit_sm_resp",
    ["connector"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
submit_errors = Counter(
    "jumbe_submit_errors",
    "submit_sm answered with an error, or not answered",
    ["connector", "kind"],
)
receipts = Counter("jumbe_receipts", "Delivery receipts from carriers", ["connector", "matched"])
inbound_messages = Counter("jumbe_inbound_messages", "MO messages from carriers", ["connector"])
webhook_deliveries = Counter("jumbe_webhook_deliveries", "Webhook POST attempts", ["outcome"])
receipt_queries = Counter(
    "jumbe_receipt_queries",
    "query_sm about messages whose receipt did not come, by what the carrier answered",
    ["connector", "answer"],
)
