"""Event handler: status changes counted for /metrics, once they are committed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from jumbe import metrics
from jumbe.services.events import AfterCommit, Event, StatusChanged


def count_status_changes(
    _conn: Connection, events: Sequence[Event], _now: datetime
) -> AfterCommit | None:
    reached = Counter(e.status.value for e in events if isinstance(e, StatusChanged))
    if not reached:
        return None

    def count() -> None:
        for status, n in reached.items():
            metrics.status_changes.labels(status).inc(n)

    return count
