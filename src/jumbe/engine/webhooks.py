"""Delivers status-change webhooks from the outbox, signed, with retries.

Each POST carries ``X-Jumbe-Signature: t=<unix time>,v1=<hex>`` where the hex
is HMAC-SHA256 over ``"<t>.<body>"`` keyed with the account's webhook secret
(Stripe's scheme: the timestamp inside the MAC defeats replays). A receiver
that answers 2xx is done; anything else is retried with exponential backoff
until ``max_attempts``. The sender runs apart from the pipeline and holds at
most ``concurrency`` requests open, each bounded by ``timeout``, so a slow or
dead receiver costs the pipeline nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy.engine import Connection

from jumbe import metrics
from jumbe.store import outbox
from jumbe.store.database import Database
from jumbe.store.schema import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Jumbe-Signature"
LEASE = timedelta(minutes=2)
POLL_INTERVAL = 0.5


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … capped at an hour, with jitter."""
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600) * random.uniform(0.8, 1.2))


class WebhookSender:
    def __init__(
        self,
        db: Database,
        *,
        timeout: float = 5.0,
        max_attempts: int = 10,
        concurrency: int = 50,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self._client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": "Jumbe-Webhooks/1"}
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                free = self.concurrency - len(self._sending)
                rows = []
                if free > 0:
                    rows = await self.db.write(partial(self._claim, limit=free))
                for row in rows:
                    task = asyncio.create_task(self._deliver(row))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                if len(rows) < free or free <= 0:
                    await asyncio.sleep(POLL_INTERVAL)
            except Exception:
                log.exception("webhooks: claiming failed; will retry")
                await asyncio.sleep(POLL_INTERVAL * 4)

    def _claim(self, conn: Connection, *, limit: int) -> list[Any]:
        return outbox.claim(
            conn, limit=limit, now=utcnow(), lease=LEASE, skip_locked=not self.db.is_sqlite
        )

    async def _deliver(self, row: Any) -> None:
        async with self._slots:
            body = row.payload.encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(row.webhook_secret, body, int(time.time())),
                "X-Jumbe-Event": "message.status",
                "X-Jumbe-Delivery": str(row.id),
            }
            error = None
            try:
                response = await self._client.post(row.url, content=body, headers=headers)
                if not 200 <= response.status_code < 300:
                    error = f"receiver answered HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempts = row.attempts + 1
        if error is None:
            status, outcome = "delivered", "delivered"
        elif attempts >= self.max_attempts:
            status, outcome = "failed", "gave_up"
            log.warning(
                "webhook %s to %s abandoned after %d attempts: %s", row.id, row.url, attempts, error
            )
        else:
            status, outcome = "pending", "retry"
        metrics.webhook_deliveries.labels(outcome).inc()
        now = utcnow()
        await self.db.write(
            lambda conn: outbox.finish(
                conn,
                row.id,
                status=status,
                attempts=attempts,
                next_attempt_at=now + backoff(attempts) if status == "pending" else now,
                error=error,
            )
        )
