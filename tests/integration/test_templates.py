"""Templates over REST v1: placeholders checked when saved, previews with units."""

from __future__ import annotations

import httpx

from tests.integration.test_contact_imports import finished


async def _group_with_headers(demo: httpx.AsyncClient) -> str:
    csv = "number,name,amount\n254712345678,Jane,1500\n0733456789,Wanjiku 😀,2300\n"
    answer = await demo.post(
        "/api/v1/contacts/import", files={"file": ("c.csv", csv)}, data={"group": "Payers"}
    )
    report = await finished(demo, answer.json()["data"]["uuid"])
    assert report["accepted"] == 2, report
    uuid: str = report["group"]["uuid"]
    return uuid


async def test_a_template_is_checked_previewed_and_changed(demo: httpx.AsyncClient) -> None:
    group = await _group_with_headers(demo)
    body = "Hi {name}, your payment of KES {amount} has been received."
    made = await demo.post(
        "/api/v1/templates", json={"name": "Paid", "group_id": group, "body": body}
    )
    assert made.status_code == 200, made.text
    template = made.json()["data"]
    assert template["placeholders"] == ["name", "amount"]
    assert template["group"]["name"] == "Payers"

    wrong = await demo.post(
        "/api/v1/templates",
        json={"name": "Typo", "group_id": group, "body": "Hi {nmae}, KES {amount} {due}"},
    )
    assert wrong.status_code == 400
    assert "{nmae}, {due}" in wrong.json()["error"]
    stray = await demo.post(
        "/api/v1/templates", json={"name": "Stray", "group_id": group, "body": "Hi {name"}
    )
    assert stray.status_code == 400 and "brace" in stray.json()["error"]
    twice = await demo.post(
        "/api/v1/templates", json={"name": "Paid", "group_id": group, "body": "x"}
    )
    assert twice.status_code == 409

    path = f"/api/v1/templates/{template['uuid']}"
    jane = await demo.post(f"{path}/preview", json={"phone": "0712345678"})
    assert jane.status_code == 200, jane.text
    shown = jane.json()["data"]
    assert shown["message"] == "Hi Jane, your payment of KES 1500 has been received."
    assert (shown["parts"], shown["units"], shown["encoding"]) == (1, 1, "gsm7")
    long_body = "Hi {name}! " + "x" * 60 + " {first_name}"
    changed = await demo.put(path, json={"body": long_body})
    assert changed.status_code == 200, changed.text
    emoji = (await demo.post(f"{path}/preview", json={"phone": "+254733456789"})).json()["data"]
    assert emoji["encoding"] == "ucs2" and emoji["parts"] == 2 and emoji["units"] == 2
    refused = await demo.put(path, json={"body": "{missing}"})
    assert refused.status_code == 400 and "{missing}" in refused.json()["error"]
    nobody = await demo.post(f"{path}/preview", json={})
    assert nobody.status_code == 400

    listed = (await demo.get("/api/v1/templates")).json()["data"]
    assert [t["name"] for t in listed] == ["Paid"]
    assert (await demo.delete(path)).status_code == 200
    assert (await demo.get(path)).status_code == 404
