"""The rules of the IMSI / SIM-swap check that need no storage.

A partner learns whether a number's SIM changed recently and gets a token for
the SIM (a hashed IMSI) that changes when the SIM does, but never the IMSI
itself: the hash is keyed per partner, so two partners cannot join their data
on it, and nobody can reverse it without the server's secret.
"""

import hashlib
import hmac
from datetime import date

__all__ = ["HASH_DIGITS", "NEVER", "hashed_imsi", "months_before", "partner_key", "recent_swap"]

HASH_DIGITS = 16
RECENT_MONTHS = 3
NEVER = date(1900, 1, 1)  # what the API says when there was no swap in the recent window


def partner_key(server_secret: bytes, partner: int) -> bytes:
    """The partner's own hashing key, derived so that only the server secret is stored."""
    return hmac.new(server_secret, f"imsi-partner:{partner}".encode(), hashlib.sha256).digest()


def hashed_imsi(key: bytes, imsi: str) -> str:
    """The IMSI as 16 digits, by HMAC-SHA256 under the partner's key."""
    digest = hmac.new(key, imsi.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**HASH_DIGITS:0{HASH_DIGITS}d}"


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day if shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def recent_swap(last_swap: date | None, today: date) -> date:
    """The swap date when it lies within the last three months, else the 1900 sentinel."""
    if last_swap is None or last_swap < months_before(today, RECENT_MONTHS):
        return NEVER
    return last_swap
