"""SMPP time format of section 7.1.1: 'YYMMDDhhmmsstnnp', absolute or relative."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

__all__ = ["format_smpp_time", "parse_smpp_time"]


def parse_smpp_time(value: str, now: datetime) -> datetime | None:
    """Parse schedule_delivery_time / validity_period.

    '' means "not given" (None). Absolute times ('+' or '-' quarter-hour offset from UTC) become
    aware UTC datetimes. Relative times ('R') are added to ``now`` with calendar years and months,
    so pass an aware UTC ``now`` to get an aware UTC result. Anything else raises ValueError,
    which the caller turns into ESME_RINVSCHED or ESME_RINVEXPIRY.
    """
    if value == "":
        return None
    if len(value) != 16 or not value[:15].isdigit() or not value[:15].isascii():
        raise ValueError(f"not an SMPP time: {value!r}")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    tenths = int(value[12])
    quarters = int(value[13:15])
    sign = value[15]
    if sign == "R":
        if mi > 59 or ss > 59 or hh > 23:
            raise ValueError(f"relative SMPP time out of range: {value!r}")
        return _add_months(now, yy * 12 + mo) + timedelta(days=dd, hours=hh, minutes=mi, seconds=ss)
    if sign not in "+-" or quarters > 48:
        raise ValueError(f"not an SMPP time: {value!r}")
    local = datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000)
    offset = timedelta(minutes=15 * quarters)
    utc = local - offset if sign == "+" else local + offset
    return utc.replace(tzinfo=UTC)


def format_smpp_time(dt: datetime) -> str:
    """Absolute time in UTC ('…00+'); a naive ``dt`` is taken to be UTC already."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return f"{dt:%y%m%d%H%M%S}{dt.microsecond // 100_000}00+"


def _add_months(dt: datetime, months: int) -> datetime:
    if not months:
        return dt
    total = dt.month - 1 + months
    year, month = dt.year + total // 12, total % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)
