"""The numbers that name a SIM: ICCID, IMSI, MSISDN, and the IMEI of its device.

IoT MSISDNs are national numbers outside the mobile ranges (300000003036);
the Safaricom faces show them so, their messaging operations with the country
code (254300000003036). Both forms are accepted wherever a number comes in,
and the national form is the one stored.
"""

__all__ = [
    "InvalidIdentifier",
    "iccid",
    "imei",
    "imsi",
    "international",
    "iot_msisdn",
]

COUNTRY_CODE = "254"


class InvalidIdentifier(ValueError):
    """A value that cannot be the identifier it claims to be; ``str()`` is the reason."""


def _digits(value: str, name: str, shortest: int, longest: int) -> str:
    value = value.strip()
    if not (value.isdigit() and value.isascii()):
        raise InvalidIdentifier(f"{name} must be digits only, got {value!r}")
    if not shortest <= len(value) <= longest:
        span = f"{shortest}" if shortest == longest else f"{shortest} to {longest}"
        raise InvalidIdentifier(f"{name} must have {span} digits, got {len(value)}")
    return value


def iccid(value: str) -> str:
    """ITU-T E.118: 89 (telecom), then up to 20 more digits; 18 to 22 digits in practice."""
    found = _digits(value, "iccid", 18, 22)
    if not found.startswith("89"):
        raise InvalidIdentifier("iccid must start with 89 (the telecom industry prefix)")
    return found


def imsi(value: str) -> str:
    """3GPP TS 23.003: MCC (3) + MNC (2-3) + MSIN, at most 15 digits."""
    return _digits(value, "imsi", 14, 15)


def imei(value: str) -> str:
    """15 digits (IMEI) or 16 (IMEISV)."""
    return _digits(value, "imei", 15, 16)


def iot_msisdn(value: str) -> str:
    """The national form of a SIM's number, from either form ('254' + national, or national)."""
    raw = value.strip().removeprefix("+")
    if raw.startswith(COUNTRY_CODE) and len(raw) >= 12:
        raw = raw[len(COUNTRY_CODE) :]
    return _digits(raw, "msisdn", 9, 12)


def international(national: str) -> str:
    """254300000003036 for 300000003036: how the messaging operations show a SIM's number."""
    return COUNTRY_CODE + national
