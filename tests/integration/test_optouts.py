"""Opt-outs: STOP and START by MO to the account's number, and the list over REST v1."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from jumbe.services import Services
from jumbe.services.delivery import InboundMessage
from jumbe.services.suppressions import OptOuts

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_stop_and_start_by_mo_move_the_number(services: Services) -> None:
    owner = await services.accounts.create_account("Shop")
    other = await services.accounts.create_account("Other")
    suppressions = services.suppressions

    async def mo(sender: str, text: bytes, to: str = owner.short_code) -> None:
        await services.delivery.record([InboundMessage("c1", sender, to, text, 0, NOW)])

    await mo("0722000111", b"STOP")
    await mo("254722000222", b" stop. ")
    await mo("254722000333", b"Please stop by the shop")
    await mo("254722000444", b"STOP", to=other.short_code)
    numbers = ["254722000111", "254722000222", "254722000333", "254722000444"]
    assert await suppressions.suppressed(owner.account_id, numbers) == {
        "254722000111",
        "254722000222",
    }
    assert await suppressions.suppressed(other.account_id, numbers) == {"254722000444"}
    await mo("254722000111", b"STOP")  # twice: still once on the list
    await mo("254722000222", b"Start")
    assert await suppressions.suppressed(owner.account_id, numbers) == {"254722000111"}
    listed = await suppressions.page(owner.account_id, page=1, page_size=10)
    assert [(s.phone, s.source) for s in listed.items] == [("254722000111", "mo")]


def test_keywords_are_configurable() -> None:
    optouts = OptOuts(stop=("acha",), start=("anza",))
    assert optouts.keyword("ACHA!") == "stop" and optouts.keyword("Anza") == "start"
    assert optouts.keyword("STOP") is None


async def test_the_list_over_rest(demo: httpx.AsyncClient) -> None:
    added = await demo.post("/api/v1/suppressions", json={"phone": "0712345678"})
    assert added.status_code == 200, added.text
    assert added.json()["data"] == {
        "phone": "+254712345678",
        "source": "api",
        "created_at": added.json()["data"]["created_at"],
    }
    csv = "number\n0733456789\n254712345678\nnonsense\n"
    imported = await demo.post("/api/v1/suppressions/import", files={"file": ("s.csv", csv)})
    assert imported.status_code == 200, imported.text
    report = imported.json()["data"]
    assert (report["accepted"], report["rejected"]) == (2, 1)
    assert report["rejections"][0]["line"] == 4
    listed = (await demo.get("/api/v1/suppressions")).json()["data"]
    assert {s["phone"] for s in listed["items"]} == {"+254712345678", "+254733456789"}
    found = (await demo.get("/api/v1/suppressions", params={"search": "0733"})).json()["data"]
    assert [s["phone"] for s in found["items"]] == ["+254733456789"]
    removed = await demo.delete("/api/v1/suppressions/%2B254712345678")
    assert removed.status_code == 200 and removed.json()["data"]["removed"] is True
    assert (await demo.delete("/api/v1/suppressions/0712345678")).status_code == 404
    bad = await demo.post("/api/v1/suppressions/import", files={"file": ("s.csv", b"\x89PNG\0")})
    assert bad.status_code == 400
