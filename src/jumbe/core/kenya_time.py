"""Kenyan calendar days and clock times.

Kenya keeps East Africa Time, UTC+3, all year (no daylight saving), so a
fixed offset is exact. Days that users see (activation trends, dates in the
Safaricom faces) are Kenyan days, whatever zone the server runs in.
"""

from datetime import date, datetime, timedelta, timezone

__all__ = ["EAT", "day_number", "days", "kenyan", "kenyan_day"]

EAT = timezone(timedelta(hours=3), "EAT")


def kenyan(at: datetime) -> datetime:
    """The same instant on a Kenyan clock."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: give an aware one")
    return at.astimezone(EAT)


def day_number(day: date) -> int:
    """20240604 for 4 June 2024: sortable, indexable, the same in every database."""
    return day.year * 10_000 + day.month * 100 + day.day


def kenyan_day(at: datetime) -> int:
    """The Kenyan calendar day of an instant, as a day number."""
    return day_number(kenyan(at).date())


def days(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
