"""REST v1 over real HTTP, through the pipeline, to the embedded carrier and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from jumbe.app import Jumbe
from jumbe.simulators.carrier import CarrierBehaviour
from tests.conftest import final_status, wait_until


async def test_message_reaches_delivered(demo: httpx.AsyncClient) -> None:
    answer = await demo.post(
        "/api/v1/messages", json={"to": "+254712345678", "message": "Hello from Jumbe!"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    data = body["data"]
    assert {"uuid", "to", "message", "sender_id", "status", "parts", "created_at"} <= set(data)
    assert (data["to"], data["status"], data["parts"], data["sender_id"]) == (
        "+254712345678",
        "queued",
        1,
        "JUMBE",
    )
    assert data["created_at"].endswith("Z")
    final = await final_status(demo, data["uuid"])
    assert final["status"] == "delivered"
    assert [h["status"] for h in final["history"]] == ["accepted", "sent", "delivered"]


async def test_long_unicode_message_goes_in_parts(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    text = "Habari yako? 😀 " * 10  # 160 UTF-16 units: three UCS-2 parts
    data = (await demo.post("/api/v1/messages", json={"to": "0712000001", "message": text})).json()[
        "data"
    ]
    assert (data["parts"], data["encoding"]) == (3, "ucs2")
    assert (await final_status(demo, data["uuid"]))["status"] == "delivered"
    assert jumbe.simulator is not None
    parts = [s for s in jumbe.simulator.submissions if s.destination_addr == "254712000001"]
    assert len(parts) == 3 and all(p.data_coding == 8 and p.esm_class & 0x40 for p in parts)


async def test_undeliverable_then_resend(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    assert jumbe.simulator is not None
    jumbe.simulator.behaviour = CarrierBehaviour(receipt_delay=0.1, undeliverable_suffixes=("99",))
    data = (await demo.post("/api/v1/messages", json={"to": "0712345699", "message": "x"})).json()[
        "data"
    ]
    final = await final_status(demo, data["uuid"])
    assert (final["status"], final["state"], final["error_code"]) == ("failed", "failed", "001")
    again = await demo.post(f"/api/v1/messages/{data['uuid']}/resend")
    assert again.status_code == 200
    assert again.json()["data"]["uuid"] != data["uuid"]
    delivered = (
        await demo.post("/api/v1/messages", json={"to": "0712345600", "message": "y"})
    ).json()
    conflict = await demo.post(f"/api/v1/messages/{delivered['data']['uuid']}/resend")
    assert conflict.status_code == 409 and conflict.json()["success"] is False


async def test_carrier_expiry_and_rejection(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    assert jumbe.simulator is not None
    jumbe.simulator.behaviour = CarrierBehaviour(
        receipt_delay=0.1, expired_suffixes=("77",), rejected_suffixes=("66",)
    )
    expired = (
        await demo.post("/api/v1/messages", json={"to": "0712345677", "message": "e"})
    ).json()
    rejected = (
        await demo.post("/api/v1/messages", json={"to": "0712345666", "message": "r"})
    ).json()
    e = await final_status(demo, expired["data"]["uuid"])
    r = await final_status(demo, rejected["data"]["uuid"])
    assert (e["status"], e["state"]) == ("failed", "expired")
    assert (r["status"], r["state"], r["error_code"]) == ("failed", "failed", "ESME_RINVDSTADR")


async def test_validity_runs_out_while_carrier_throttles(jumbe: Jumbe) -> None:
    """A carrier that never takes the message: retried until the validity period ends."""
    assert jumbe.simulator is not None and jumbe.demo is not None
    jumbe.simulator.behaviour = CarrierBehaviour(receipt_delay=0.1, max_tps=0)
    from jumbe.services.messaging import SendRequest

    m = await jumbe.services.messaging.send(
        jumbe.demo.account_id,
        SendRequest("0712345678", "too late", valid_until=datetime.now(UTC) + timedelta(seconds=2)),
    )

    async def expired() -> bool:
        got = await jumbe.services.messaging.get(jumbe.demo.account_id, m.uuid)
        return got.status.value == "expired"

    await wait_until(expired, within=15, what="expiry")
    reconciliation = await jumbe.services.billing.reconcile(jumbe.demo.account_id)
    assert reconciliation.ok and reconciliation.refunded == 1


async def test_bind_lost_and_regained(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    assert jumbe.simulator is not None
    assert await jumbe.simulator.drop_binds() == 1
    uuids = []
    for i in range(20):
        answer = await demo.post(
            "/api/v1/messages", json={"to": f"07120001{i:02d}", "message": "b"}
        )
        uuids.append(answer.json()["data"]["uuid"])
    for uuid in uuids:
        assert (await final_status(demo, uuid, within=20))["status"] == "delivered"


async def test_inbound_message_reaches_its_account(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    assert jumbe.demo is not None and jumbe.simulator is not None
    answer = await demo.post(
        "/simulator/mo",
        json={"from": "254722000111", "to": jumbe.demo.short_code, "text": "Ndiyo, asante"},
        headers={"X-Simulator-Token": jumbe.simulator_token},
    )
    assert answer.status_code == 202

    async def arrived() -> list[dict[str, object]]:
        page = (await demo.get("/api/v1/messages", params={"direction": "mo"})).json()["data"]
        return page["items"]

    items = await wait_until(arrived, what="the MO message")
    assert items[0]["message"] == "Ndiyo, asante"
    assert items[0]["sender_id"] == "+254722000111" and items[0]["direction"] == "inbound"


async def test_list_and_filters(demo: httpx.AsyncClient) -> None:
    for i in range(3):
        await demo.post("/api/v1/messages", json={"to": f"071200020{i}", "message": f"n{i}"})
    page = (await demo.get("/api/v1/messages", params={"page_size": 2})).json()["data"]
    assert (len(page["items"]), page["total"], page["total_pages"]) == (2, 3, 2)
    only = (await demo.get("/api/v1/messages", params={"phone": "0712000201"})).json()["data"]
    assert [m["message"] for m in only["items"]] == ["n1"]
    for bad in ({"page_size": 500}, {"page": 0}, {"status": "lost"}, {"phone": "abc"}):
        answer = await demo.get("/api/v1/messages", params=bad)
        assert answer.status_code == 400 and answer.json()["success"] is False, bad


async def test_operations_endpoints(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    assert (await demo.get("/healthz")).json() == {"status": "ok"}
    ready = await demo.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "migrations": "current"}
    links = (await demo.get("/status/carriers")).json()
    assert links["node"] == jumbe.settings.node_id
    assert [(c["name"], c["state"], c["binds_up"]) for c in links["connectors"]] == [
        ("simulator", "bound", 1)
    ]
    await demo.post("/api/v1/messages", json={"to": "0712345678", "message": "m"})
    text = (await demo.get("/metrics")).text
    for name in (
        "jumbe_queue_depth",
        'jumbe_connector_up{connector="simulator"} 1.0',
        'jumbe_connector_binds{connector="simulator"} 1.0',
        "jumbe_submit_latency_seconds_bucket",
        'jumbe_messages{status="delivered"}',
    ):
        assert name in text, name
    docs = await demo.get("/docs")
    assert docs.status_code == 200
    spec = (await demo.get("/openapi.json")).json()
    assert "/api/v1/messages" in spec["paths"]
