"""REST v1 SIMs over real HTTP: CSV import as multipart or raw body, the paged list, scope."""

from __future__ import annotations

import httpx

from jumbe.app import Jumbe
from tests.conftest import demo_token

CSV = (
    "iccid,imsi,msisdn,status\n"
    "89254014010100030360,639014010003036,300000003036,active\n"
    "89254014010100030361,639014010003037,254300000003037,\n"
    "89254014010100030362,639014010003038,bad,\n"
)


async def test_import_then_list(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    answer = await demo.post(
        "/api/v1/sims/import", content=CSV, headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "success": True,
        "data": {
            "rows": 3,
            "accepted": 2,
            "rejected": 1,
            "rejections": [{"line": 4, "reason": "msisdn must be digits only, got 'bad'"}],
        },
    }
    more = CSV.replace("0303", "0404").replace("bad", "300000004038")
    answer = await demo.post("/api/v1/sims/import", files={"file": ("sims.csv", more.encode())})
    assert answer.json()["data"]["accepted"] == 3
    page = (await demo.get("/api/v1/sims", params={"page_size": 2, "page": 2})).json()["data"]
    assert (page["total"], page["total_pages"], len(page["items"])) == (5, 3, 2)
    active = (await demo.get("/api/v1/sims", params={"status": "Active"})).json()["data"]
    assert [s["status"] for s in active["items"]] == ["active", "active"]
    assert active["items"][0]["msisdn"] == "300000003036"
    assert (
        active["items"][0]["vpn_group"]
        == (await demo.get("/api/v1/sims")).json()["data"]["items"][0]["vpn_group"]
    )


async def test_bad_imports_and_scope(jumbe: Jumbe, demo: httpx.AsyncClient) -> None:
    for kwargs in (
        {"content": b"", "headers": {"Content-Type": "text/csv"}},
        {"content": b"iccid,imsi\n1,2\n", "headers": {"Content-Type": "text/csv"}},
        {"files": {"a": ("a.csv", b"x"), "b": ("b.csv", b"y")}},
    ):
        answer = await demo.post("/api/v1/sims/import", **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 400 and answer.json()["success"] is False
    assert (await demo.get("/api/v1/sims", params={"status": "dormant"})).status_code == 400
    assert jumbe.demo is not None
    raw, _ = await demo_token(jumbe, "m", ["messages"])
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=10) as client:
        answer = await client.get("/api/v1/sims", headers={"X-API-Key": raw})
    assert answer.status_code == 403
