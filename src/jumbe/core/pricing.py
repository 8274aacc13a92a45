"""What a message costs in units, by the account's pricing rule.

Two rules, chosen per account:

- ``segments`` (Jumbe's own, the Mobile Sasa way): one unit per segment the
  carrier receives, so the price follows the encoding (160 GSM-7 characters
  fit one segment, 153 per segment once split; 70 and 67 for UCS-2).
- ``kimisms`` (the Kimisms table): one unit per 160 characters or part of
  160, whatever the encoding, so a customer can price a message by counting
  characters. The carrier still receives segments: a 161-character GSM-7
  message is 2 units and 2 segments, a 70-character message with an emoji is
  1 unit but 1 UCS-2 segment, a 300-character UCS-2 message is 2 units and 5
  segments.

Binary data has no characters: it costs one unit per segment under both rules.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "API_MAX_CHARACTERS",
    "KIMISMS_UNIT_CHARACTERS",
    "PORTAL_MAX_CHARACTERS",
    "PORTAL_SOURCES",
    "Pricing",
    "max_characters",
    "parse_pricing",
    "units_for",
]


class Pricing(StrEnum):
    SEGMENTS = "segments"
    KIMISMS = "kimisms"


KIMISMS_UNIT_CHARACTERS = 160
PORTAL_MAX_CHARACTERS = 960  # the Kimisms portal and campaigns: 6 units at most
API_MAX_CHARACTERS = 10_000  # an API send (the Kimisms /api/send-sms allows this many)
# where a person types the message: the Kimisms limit of 960 characters applies
PORTAL_SOURCES = frozenset({"portal", "campaign"})


def units_for(pricing: Pricing, *, characters: int | None, segments: int) -> int:
    """Units to charge: ``characters`` is None for binary data (charged per segment)."""
    if pricing is Pricing.KIMISMS and characters is not None:
        return max(1, -(-characters // KIMISMS_UNIT_CHARACTERS))
    return segments


def max_characters(source: str) -> int:
    """The longest text a send through ``source`` may carry."""
    return PORTAL_MAX_CHARACTERS if source in PORTAL_SOURCES else API_MAX_CHARACTERS


def parse_pricing(value: str) -> Pricing:
    """A pricing rule by name; ValueError listing the names otherwise."""
    try:
        return Pricing(value.strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in Pricing)
        raise ValueError(f"pricing must be one of {names}") from None
