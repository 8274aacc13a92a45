"""Times as the HTTP faces show them."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z (``2026-05-11T09:00:00.000Z``)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
