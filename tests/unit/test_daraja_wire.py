"""The Daraja faces' wire formats, and KES amounts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from jumbe.core.kenya_time import day_number, kenyan_day
from jumbe.core.money import format_kes, kes_to_cents
from jumbe.faces.daraja.wire import (
    BadPayload,
    Payload,
    day_month_year,
    lenient_json,
    parse_compact_day,
    request_ref,
    stamp,
    timestamp,
)


def test_trailing_commas_are_forgiven_but_not_inside_strings() -> None:
    assert lenient_json(b'{"vpnGroup": "x", "pageNo": 1, "pageSize": 10,\n}') == {
        "vpnGroup": "x",
        "pageNo": 1,
        "pageSize": 10,
    }
    assert lenient_json(b'{"a": [1, 2,], "b": ",}", "c": "\\",]"}') == {
        "a": [1, 2],
        "b": ",}",
        "c": '",]',
    }
    for bad in (b"", b"not json", b'{"a": 1', b"\xff\xfe"):
        with pytest.raises(BadPayload):
            lenient_json(bad)


def test_payload_reads_numbers_as_strings_and_lists_or_strings() -> None:
    p = Payload({"pageSize": "3", "start": 0, "vpnGroup": ["1-1_VPN"], "msisdn": 300000003036})
    assert p.number("pageSize") == 3 and p.number("start") == 0
    assert p.number("missing", default=10) == 10
    assert p.text("msisdn") == "300000003036"
    assert p.texts("vpnGroup") == ["1-1_VPN"]
    assert Payload({"vpnGroup": "1-1_VPN"}).texts("vpnGroup") == ["1-1_VPN"]
    assert p.text("nope", "pageSize") == "3"
    assert p.optional_text("product") is None
    for bad in (
        lambda: Payload([]),
        lambda: p.text("missing"),
        lambda: Payload({"a": ""}).text("a"),
        lambda: Payload({"a": True}).text("a"),
        lambda: Payload({"a": {"b": 1}}).text("a"),
        lambda: Payload({"a": "-1"}).number("a"),
        lambda: Payload({"vpnGroup": []}).texts("vpnGroup"),
    ):
        with pytest.raises(BadPayload):
            bad()


def test_times_are_kenyan_with_nine_fractional_digits() -> None:
    at_ns = int(datetime(2025, 3, 20, 8, 22, 53, tzinfo=UTC).timestamp()) * 10**9 + 461865400
    assert timestamp(at_ns) == "2025-03-20T11:22:53.461865400"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}", timestamp())
    assert (
        stamp(datetime(2025, 3, 5, 8, 5, 6, 88002, tzinfo=UTC)) == "2025-03-05T11:05:06.088002000"
    )
    assert stamp(None) == "-"


def test_dates() -> None:
    assert parse_compact_day("20240221", "startDate") == date(2024, 2, 21)
    for bad in ("2024-02-21", "20240230", "2024022", "２０２４０２２１"):
        with pytest.raises(BadPayload):
            parse_compact_day(bad, "startDate")
    assert day_month_year(date(2022, 5, 1)) == "01-05-2022"
    assert day_number(date(2024, 6, 4)) == 20240604
    # 22:30 UTC is already the next day in Nairobi
    assert kenyan_day(datetime(2024, 6, 3, 22, 30, tzinfo=UTC)) == 20240604


def test_request_refs_look_like_safaricoms() -> None:
    assert re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+", request_ref())


def test_kes_amounts_are_exact_cents() -> None:
    assert kes_to_cents("20") == 2000 and kes_to_cents("20.5") == 2050
    assert kes_to_cents(" 0.01 ") == 1
    assert format_kes(2050) == "20.50" and format_kes(-5) == "-0.05"
    for bad in ("20.001", "twenty", "NaN", "inf"):
        with pytest.raises(ValueError):
            kes_to_cents(bad)
