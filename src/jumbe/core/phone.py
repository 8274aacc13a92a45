"""Kenyan phone numbers: normalisation and carrier lookup.

Kenyan numbers take a hand-written fast path because they are nearly all of the traffic and
``phonenumbers.parse`` costs tens of microseconds a call; foreign numbers are rare enough to
afford it. Validity still comes from phonenumbers' KE metadata so that a library upgrade
brings new number ranges without a code change here.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType

import phonenumbers
from phonenumbers.carrierdata import CARRIER_DATA

__all__ = [
    "KENYAN_CARRIERS",
    "CarrierTable",
    "InvalidNumber",
    "carrier_slug",
    "default_carrier_table",
    "is_builtin_carrier",
    "normalise",
]

KENYA_CC = "254"
_NATIONAL_LENGTH = 9  # Kenyan subscriber numbers, without the trunk 0 or the 254.


def _ke_pattern(kind: str) -> re.Pattern[str]:
    """A KE number-type pattern from libphonenumber's metadata, which ships with the library."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("KE")
    description = getattr(metadata, kind, None)
    pattern = getattr(description, "national_number_pattern", None)
    if not isinstance(pattern, str):
        raise RuntimeError(f"libphonenumber has no KE {kind} pattern")
    # re.ASCII: a bare \d would also accept Arabic-Indic and other Unicode digits.
    return re.compile(pattern, re.ASCII)


_is_ke_mobile = _ke_pattern("mobile").fullmatch
_KE_FIXED = _ke_pattern("fixed_line")

# Characters people put between digits. Deleting them in one C-level translate is cheaper than
# a regex, and anything left over that is not a digit is a genuine error worth reporting.
_SEPARATORS = str.maketrans("", "", " \t\u00a0-().")

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
_FOREIGN_LENGTH_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too few digits for a number in that country",
    phonenumbers.ValidationResult.TOO_LONG: "too many digits for a number in that country",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits for that country",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: (
        "too few digits for a number in that country"
    ),
}


class InvalidNumber(ValueError):
    """Raised for input that cannot be turned into a number we can send to.

    ``str()`` is the reason alone: phone numbers are personal data (Kenya's Data Protection
    Act), so the input is kept on ``raw`` for callers that must echo it back (e.g. a bulk
    upload report) rather than written into every log line that formats the exception.
    """

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw
        self.reason = reason


def normalise(raw: str) -> str:
    """Return the number as international digits without '+', e.g. '254712345678'.

    One canonical form lets the rest of the system compare, index and route numbers as
    plain strings, whatever the customer typed.
    """
    s = raw.strip()
    # Fast path: the unpunctuated forms that make up almost all traffic cost one slice and one
    # regex match, which also proves the national part is nine ASCII digits.
    n = len(s)
    if n == 10 and s[0] == "0":
        national = s[1:]
    elif n == 13 and s.startswith("+254"):
        national = s[4:]
    elif n == 12 and s.startswith(KENYA_CC):
        national = s[3:]
    elif n == _NATIONAL_LENGTH:
        national = s
    else:
        return _normalise_slow(raw, s)
    if _is_ke_mobile(national):
        return KENYA_CC + national
    return _normalise_slow(raw, s)


def _normalise_slow(raw: str, s: str) -> str:
    """Every other form, and every error, so the fast path stays short."""
    if not (s.isdigit() and s.isascii()):
        s = s.translate(_SEPARATORS)
        if not s:
            raise InvalidNumber(raw, "empty phone number")
        if s[0] == "+":
            return _international(raw, s[1:])
        if not (s.isdigit() and s.isascii()):
            raise InvalidNumber(raw, _bad_characters(s))
    if s.startswith("00"):
        return _international(raw, s[2:])
    if s[0] == "0":
        return KENYA_CC + _kenyan(raw, s[1:])
    if s.startswith(KENYA_CC) and len(s) > _NATIONAL_LENGTH:
        return KENYA_CC + _kenyan(raw, _after_country_code(s[3:]))
    return KENYA_CC + _kenyan(raw, s)


def _after_country_code(national: str) -> str:
    """Drop a trunk 0 typed after 254 ('+254 (0)712…'), a common and unambiguous slip."""
    if len(national) == _NATIONAL_LENGTH + 1 and national[0] == "0":
        return national[1:]
    return national


def _kenyan(raw: str, national: str) -> str:
    """Validate a Kenyan national number; the checks are ordered so the reason names the
    most likely mistake rather than the first rule that happens to fail."""
    if not national:
        raise InvalidNumber(raw, "too few digits for a Kenyan mobile number")
    if national[0] not in "17":
        if _KE_FIXED.fullmatch(national):
            raise InvalidNumber(raw, "this is a Kenyan landline number, not a mobile number")
        if len(national) > _NATIONAL_LENGTH:
            raise InvalidNumber(
                raw,
                "too many digits for a Kenyan mobile number "
                "(write foreign numbers with + and the country code)",
            )
        raise InvalidNumber(
            raw, "not a Kenyan mobile number: Kenyan mobile numbers start with 07 or 01"
        )
    if len(national) < _NATIONAL_LENGTH:
        raise InvalidNumber(raw, "too few digits for a Kenyan mobile number")
    if len(national) > _NATIONAL_LENGTH:
        raise InvalidNumber(raw, "too many digits for a Kenyan mobile number")
    if _is_ke_mobile(national) is None:
        raise InvalidNumber(raw, f"unknown Kenyan mobile prefix 0{national[:3]}")
    return national


def _international(raw: str, digits: str) -> str:
    if not digits:
        raise InvalidNumber(raw, "no digits after the international prefix")
    if not (digits.isdigit() and digits.isascii()):
        raise InvalidNumber(raw, _bad_characters(digits))
    if digits.startswith(KENYA_CC):
        return KENYA_CC + _kenyan(raw, _after_country_code(digits[3:]))
    return _foreign(raw, digits)


def _foreign(raw: str, digits: str) -> str:
    """Slow path through phonenumbers; foreign destinations are a small share of traffic."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        raise InvalidNumber(raw, "unknown country code") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _FOREIGN_LENGTH_REASONS:
        raise InvalidNumber(raw, _FOREIGN_LENGTH_REASONS[possible])
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(raw, "not a valid number in its country")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidNumber(raw, "not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def _bad_characters(s: str) -> str:
    bad = "".join(dict.fromkeys(c for c in s if not (c.isdigit() and c.isascii())))
    return f"contains characters other than the digits 0-9: {bad!r}"


def carrier_slug(name: str) -> str:
    """Turn a carrier display name into a stable key ('NRG Media Limited' -> 'nrg-media-limited').

    Routing rules and admin overrides refer to carriers by slug, so the slug must not change
    when phonenumbers tweaks accents or spacing in a display name.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub("-", folded.lower()).strip("-")


def _builtin_prefixes() -> dict[str, str]:
    slugs: dict[str, str] = {}
    table: dict[str, str] = {}
    for prefix, names in CARRIER_DATA.items():
        name = names.get("en")
        if not name:
            continue  # a handful of entries exist only in other languages
        slug = slugs.get(name)
        if slug is None:
            slug = slugs[name] = carrier_slug(name)
        if slug:
            table[prefix] = slug
    return table


# Every country, so foreign numbers get a carrier too; ~29k entries, built once at import
# together with what CarrierTable derives from them, so building a table per admin edit of
# the overrides stays cheap.
_BUILTIN = _builtin_prefixes()
_BUILTIN_KE = {k: v for k, v in _BUILTIN.items() if k.startswith(KENYA_CC)}
_BUILTIN_LENGTHS = frozenset(len(k) for k in _BUILTIN)
_BUILTIN_SLUGS = frozenset(_BUILTIN.values())
KENYAN_CARRIERS = tuple(sorted(set(_BUILTIN_KE.values())))


def is_builtin_carrier(slug: str) -> bool:
    """Whether libphonenumber names this carrier (in any country)."""
    return slug in _BUILTIN_SLUGS


_BUILTIN_KE_LENGTHS = frozenset(len(k) for k in _BUILTIN_KE)


def _can_prefix_kenyan(prefix: str) -> bool:
    return prefix.startswith(KENYA_CC) or KENYA_CC.startswith(prefix)


class CarrierTable:
    """Longest-prefix carrier lookup over phonenumbers' data plus admin overrides.

    Number portability and new allocations make the built-in data drift from reality, so
    admins can correct it; an override replaces the built-in entry with the same prefix and
    otherwise competes on prefix length like any other entry, which keeps the rule simple
    enough to explain on an admin screen.
    """

    __slots__ = ("_display", "_ke_lengths", "_lengths", "_table")

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        overrides = dict(overrides or {})
        for prefix in overrides:
            if not (isinstance(prefix, str) and prefix.isdigit() and prefix.isascii()):
                raise ValueError(f"carrier prefix must be digits, got {prefix!r}")
        self._table = {**_BUILTIN, **overrides}
        self._lengths = _desc(_BUILTIN_LENGTHS | {len(k) for k in overrides})
        # Only keys that can prefix a 254… number matter for Kenyan lookups; restricting the
        # lengths tried keeps the hot path to one or two dict probes.
        self._ke_lengths = _desc(
            _BUILTIN_KE_LENGTHS | {len(k) for k in overrides if _can_prefix_kenyan(k)}
        )
        self._display = MappingProxyType({**_BUILTIN_KE, **overrides})

    def carrier_of(self, msisdn: str) -> str:
        """Return the carrier slug for a normalised number, or "unknown"."""
        lengths = self._ke_lengths if msisdn.startswith(KENYA_CC) else self._lengths
        table = self._table
        for n in lengths:
            slug = table.get(msisdn[:n])
            if slug is not None:
                return slug
        return "unknown"

    @property
    def prefixes(self) -> Mapping[str, str]:
        """Kenyan built-in prefixes merged with the overrides.

        Foreign built-in prefixes are used by carrier_of but left out here: tens of thousands
        of rows are not something an admin screen should render.
        """
        return self._display


def _desc(lengths: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(lengths, reverse=True))


@cache
def default_carrier_table() -> CarrierTable:
    """Shared table without overrides, for callers that have no admin data to hand."""
    return CarrierTable()
