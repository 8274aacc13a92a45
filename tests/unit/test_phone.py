import pytest
from hypothesis import given
from hypothesis import strategies as st

from jumbe.core.phone import (
    CarrierTable,
    InvalidNumber,
    carrier_slug,
    default_carrier_table,
    normalise,
)


@pytest.mark.parametrize(
    "raw",
    [
        "+254712345678",
        "254712345678",
        "0712345678",
        "712345678",
        "+254 712 345 678",
        "0712-345-678",
        "(0712) 345678",
        "00254712345678",
        "  0712345678  ",
        "\t+254712345678\n",
        "0712.345.678",
        "+254 (0) 712 345 678",
        "2540712345678",
    ],
)
def test_accepted_forms_of_a_07_number(raw: str) -> None:
    assert normalise(raw) == "254712345678"


@pytest.mark.parametrize(
    "raw", ["0110123456", "110123456", "+254110123456", "254110123456", "0110 123 456"]
)
def test_accepted_forms_of_a_01_number(raw: str) -> None:
    assert normalise(raw) == "254110123456"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty phone number"),
        ("   ", "empty phone number"),
        ("--", "empty phone number"),
        ("abc", "contains characters other than the digits 0-9: 'abc'"),
        ("07123x5678", "contains characters other than the digits 0-9: 'x'"),
        ("0712#345678", "contains characters other than the digits 0-9: '#'"),
        ("+254+712345678", "contains characters other than the digits 0-9: '+'"),
        ("٠٧١٢٣٤٥٦٧٨", "contains characters other than the digits 0-9"),
        ("0", "too few digits for a Kenyan mobile number"),
        ("071234567", "too few digits for a Kenyan mobile number"),
        ("71234567", "too few digits for a Kenyan mobile number"),
        ("+25471234567", "too few digits for a Kenyan mobile number"),
        ("+254", "too few digits for a Kenyan mobile number"),
        ("07123456789", "too many digits for a Kenyan mobile number"),
        ("+2547123456789", "too many digits for a Kenyan mobile number"),
        ("0201234567", "this is a Kenyan landline number, not a mobile number"),
        ("+254201234567", "this is a Kenyan landline number, not a mobile number"),
        ("0150123456", "unknown Kenyan mobile prefix 0150"),
        ("0190123456", "unknown Kenyan mobile prefix 0190"),
        ("812345678", "not a Kenyan mobile number: Kenyan mobile numbers start with 07 or 01"),
        ("447911123456", "too many digits for a Kenyan mobile number"),
        ("+", "no digits after the international prefix"),
        ("00", "no digits after the international prefix"),
    ],
)
def test_rejections_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise(raw)
    assert info.value.reason.startswith(reason)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+255712345678", "255712345678"),
        ("00255712345678", "255712345678"),
        ("+44 7911 123456", "447911123456"),
        ("+14155552671", "14155552671"),  # US: fixed-line-or-mobile
    ],
)
def test_foreign_mobile_numbers_are_accepted(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("+2557123", "too few digits for a number in that country"),
        ("+4479111234567890", "too many digits for a number in that country"),
        ("+999123456789", "unknown country code"),
        ("+390612345678", "not a mobile number"),  # Rome landline
    ],
)
def test_invalid_foreign_numbers_are_rejected(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise(raw)
    assert info.value.reason == reason


@given(st.from_regex(r"7[0-9]{8}", fullmatch=True))
def test_every_spelling_of_a_valid_number_agrees(national: str) -> None:
    try:
        expected = normalise(national)
    except InvalidNumber:
        return
    for raw in ("0" + national, "254" + national, "+254" + national, "00254" + national):
        assert normalise(raw) == expected == "254" + national


@pytest.mark.parametrize(
    ("raw", "carrier"),
    [
        ("0712345678", "safaricom"),
        ("0733123456", "airtel"),
        ("0110123456", "safaricom"),
        ("0100123456", "airtel"),
        ("0770123456", "telkom"),
        ("0747123456", "jtl"),
        ("0757123456", "safaricom"),
        ("0761123456", "telkom"),
        ("0768123456", "safaricom"),
        ("0130123456", "nrg-media-limited"),
    ],
)
def test_builtin_carriers(raw: str, carrier: str) -> None:
    assert default_carrier_table().carrier_of(normalise(raw)) == carrier


def test_default_table_is_cached() -> None:
    assert default_carrier_table() is default_carrier_table()


def test_unknown_carrier() -> None:
    assert default_carrier_table().carrier_of("254999999999") == "unknown"
    assert default_carrier_table().carrier_of("") == "unknown"


def test_foreign_carrier_uses_phonenumbers_data() -> None:
    table = default_carrier_table()
    assert table.carrier_of(normalise("+255712345678")) != "unknown"
    assert table.carrier_of("14155552671") == "unknown"


def test_override_replaces_builtin_prefix() -> None:
    table = CarrierTable({"254747": "airtel"})
    assert table.carrier_of("254747123456") == "airtel"
    assert table.prefixes["254747"] == "airtel"
    assert table.carrier_of("254712345678") == "safaricom"


def test_override_adds_longer_prefix() -> None:
    table = CarrierTable({"2547123": "ported"})
    assert table.carrier_of("254712345678") == "ported"
    assert table.carrier_of("254711345678") == "safaricom"
    assert table.prefixes["2547123"] == "ported"


def test_override_adds_foreign_prefix() -> None:
    table = CarrierTable({"1415": "pacific"})
    assert table.carrier_of("14155552671") == "pacific"
    assert table.prefixes["1415"] == "pacific"


def test_builtin_beats_shorter_override() -> None:
    # Longest prefix wins over the merged table, whoever supplied the entry.
    table = CarrierTable({"2547": "catch-all"})
    assert table.carrier_of("254712345678") == "safaricom"
    assert table.carrier_of("254799999999") == "safaricom"


def test_overrides_do_not_leak_into_default_table() -> None:
    CarrierTable({"254747": "airtel"})
    assert default_carrier_table().carrier_of("254747123456") == "jtl"


@pytest.mark.parametrize("prefix", ["", "2547a", "+254", " 254", "٢٥٤"])
def test_bad_override_prefix_raises(prefix: str) -> None:
    with pytest.raises(ValueError):
        CarrierTable({prefix: "airtel"})


def test_prefixes_show_kenyan_builtins() -> None:
    prefixes = default_carrier_table().prefixes
    assert prefixes["25470"] == "safaricom"
    assert all(key.startswith("254") for key in prefixes)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("NRG Media Limited", "nrg-media-limited"),
        ("Safaricom", "safaricom"),
        ("JTL", "jtl"),
        ("Telefónica Móviles", "telefonica-moviles"),
        ("  A & B  ", "a-b"),
    ],
)
def test_carrier_slug(name: str, slug: str) -> None:
    assert carrier_slug(name) == slug


def test_invalid_number_message_does_not_repeat_the_number() -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise("0201234567")
    assert info.value.raw == "0201234567"
    assert "0201234567" not in str(info.value)
