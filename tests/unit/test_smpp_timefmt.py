from datetime import UTC, datetime, timedelta

import pytest

from jumbe.smpp.timefmt import format_smpp_time, parse_smpp_time

NOW = datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)


def test_empty_means_not_given() -> None:
    assert parse_smpp_time("", NOW) is None


def test_absolute_utc() -> None:
    assert parse_smpp_time("250315143005200+", NOW) == datetime(
        2025, 3, 15, 14, 30, 5, 200_000, tzinfo=UTC
    )


def test_absolute_with_positive_offset_is_converted_to_utc() -> None:
    # Nairobi is UTC+3: 12 quarter hours ahead.
    assert parse_smpp_time("250315143000012+", NOW) == datetime(2025, 3, 15, 11, 30, tzinfo=UTC)


def test_absolute_with_negative_offset() -> None:
    assert parse_smpp_time("250315143000020-", NOW) == datetime(2025, 3, 15, 19, 30, tzinfo=UTC)


def test_relative() -> None:
    assert parse_smpp_time("000001020304000R", NOW) == NOW + timedelta(
        days=1, hours=2, minutes=3, seconds=4
    )


def test_relative_months_are_calendar_months() -> None:
    assert parse_smpp_time("000100000000000R", NOW) == datetime(2025, 2, 28, 10, tzinfo=UTC)
    assert parse_smpp_time("010000000000000R", NOW) == datetime(2026, 1, 31, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2503151430",
        "25031514300001+",
        "250315143000000X",
        "251315143000000+",  # month 13
        "250332143000000+",  # day 32
        "250315143000049+",  # offset beyond 48 quarter hours
        "25031514300a000+",
        "000000240000000R",  # 24 hours in a relative time
        "２５0315143000000+",
    ],
)
def test_malformed_values_raise(value: str) -> None:
    with pytest.raises(ValueError):
        parse_smpp_time(value, NOW)


def test_format_is_absolute_utc() -> None:
    assert format_smpp_time(datetime(2025, 3, 15, 14, 30, 5, 700_000, tzinfo=UTC)) == (
        "250315143005700+"
    )
    nairobi = datetime(2025, 3, 15, 17, 30, tzinfo=UTC).astimezone(
        __import__("datetime").timezone(timedelta(hours=3))
    )
    assert format_smpp_time(nairobi) == "250315173000000+"
    assert format_smpp_time(datetime(2025, 3, 15, 14, 30)) == "250315143000000+"


def test_format_then_parse() -> None:
    dt = datetime(2031, 12, 1, 0, 0, 59, 300_000, tzinfo=UTC)
    assert parse_smpp_time(format_smpp_time(dt), NOW) == dt
