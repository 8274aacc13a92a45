"""The one clock: aware UTC now.

Every layer reads time here, so a test or a replay has one place to look, and
no naive datetime (which the store refuses) can come from a forgotten
``datetime.now()``.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
