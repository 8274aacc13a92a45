"""An account's messages counted by status since a moment: what a dashboard shows first.

Counted in the database (one grouped query), never by paging through the
messages, so the answer costs the same for ten messages or a million.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from jumbe.core.status import MessageStatus
from jumbe.services.views import API_STATUS
from jumbe.store.database import Database
from jumbe.store.schema import messages


class ActivityService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_status(self, account_id: int, since: datetime) -> dict[str, int]:
        """Messages of the account created since ``since``, by their API status word."""
        query = (
            select(messages.c.status, func.count())
            .where(messages.c.account_id == account_id, messages.c.created_at >= since)
            .group_by(messages.c.status)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        counts = dict.fromkeys(("queued", "sent", "delivered", "failed", "received"), 0)
        for status, count in rows:
            counts[API_STATUS[MessageStatus(status)]] += int(count)
        return counts
