"""The two pricing rules: per carrier segment, or the Kimisms table (1 unit per 160 characters)."""

from __future__ import annotations

import pytest

from jumbe.core.pricing import (
    API_MAX_CHARACTERS,
    PORTAL_MAX_CHARACTERS,
    Pricing,
    max_characters,
    parse_pricing,
    units_for,
)
from jumbe.core.segments import segment


@pytest.mark.parametrize(
    ("characters", "units"),
    [(1, 1), (160, 1), (161, 2), (320, 2), (321, 3), (480, 3), (481, 4), (800, 5), (960, 6)],
)
def test_the_kimisms_table(characters: int, units: int) -> None:
    assert units_for(Pricing.KIMISMS, characters=characters, segments=99) == units


def test_kimisms_units_ignore_the_encoding_but_segments_follow_it() -> None:
    emoji = "Habari 👋" + "x" * 100  # UCS-2: two segments, 109 characters
    layout = segment(emoji)
    assert layout.count == 2
    assert units_for(Pricing.KIMISMS, characters=len(emoji), segments=layout.count) == 1
    assert units_for(Pricing.SEGMENTS, characters=len(emoji), segments=layout.count) == 2
    gsm = "x" * 161  # GSM-7: 2 segments, 2 units either way
    assert units_for(Pricing.KIMISMS, characters=161, segments=segment(gsm).count) == 2


def test_binary_is_charged_per_segment_under_both_rules() -> None:
    for pricing in Pricing:
        assert units_for(pricing, characters=None, segments=3) == 3


def test_limits_by_where_the_message_is_typed() -> None:
    assert max_characters("portal") == max_characters("campaign") == PORTAL_MAX_CHARACTERS == 960
    assert max_characters("rest") == max_characters("kimisms") == API_MAX_CHARACTERS == 10_000


def test_parse_pricing() -> None:
    assert parse_pricing(" Kimisms ") is Pricing.KIMISMS
    with pytest.raises(ValueError, match="segments, kimisms"):
        parse_pricing("per-word")
