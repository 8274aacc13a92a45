"""Delivers status callbacks from the outbox: signed, in order per message, at pipeline speed.

Each POST carries ``X-Jumbe-Signature: t=<unix time>,v1=<hex>`` where the hex
is HMAC-SHA256 over ``"<t>.<body>"`` keyed with the account's webhook secret
(Stripe's scheme: the timestamp inside the MAC defeats replays), and the
callback's ``X-Jumbe-Delivery`` id and ``X-Jumbe-Sequence`` number (also in the
body) so a receiver can order a message's callbacks and drop repeats.

How it keeps up with the pipeline:

- new callback rows are written already claimed by this node and offered to it
  once committed (``services.webhooks``), so they cost no claim and no read;
  it polls only for retries that fell due and rows whose node died;
- each turn is one transaction that records every outcome learnt since the last
  turn, checks the order of offered rows that are not their message's first,
  and claims what fell due (including the callbacks those outcomes let go);
  turns are at least ``TURN`` apart, so at load the sender adds a few commits a
  second to the database, not one per callback;
- each receiver (scheme, host, port) has its own connections, kept alive, at most
  ``per_receiver`` of them; a callback that waits longer than ``timeout`` for
  one, or whose POST takes longer, is a failed attempt. So a slow or dead
  receiver holds back only its own callbacks, never another receiver's nor the
  pipeline (which only writes rows).

Anything but a 2xx, and any exception on the way (a refused address, a
malformed URL, a reset connection), is a failed attempt, retried with
exponential backoff until ``max_attempts``. A message's next callback waits
until the one before it is delivered or given up (see ``store.outbox``).

At least once: a callback whose POST succeeded but whose outcome was not yet
committed when the process died is sent again after a restart (the claims of
the dead run are released at start); receivers de-duplicate by delivery id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy.engine import Connection
from yarl import URL

from jumbe import metrics
from jumbe.core.backoff import doubling_delay
from jumbe.core.callback_url import CallbackTarget, InvalidCallbackUrl, parse
from jumbe.core.clock import utcnow
from jumbe.engine.background import LoopTask
from jumbe.services.callback_urls import CallbackUrls
from jumbe.services.webhooks import NewCallback
from jumbe.store import outbox
from jumbe.store.database import Database

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Jumbe-Signature"
EVENT = "message.status"
POLL_INTERVAL = 1.0  # for retries that fell due; new rows wake the sender
TURN = 0.05  # seconds at least between two turns (transactions) of the sender
CLAIM_BATCH = 1000
MAX_HELD = 20_000  # claimed callbacks held in memory at most (memory bound)
SECRET_TTL = 60.0  # seconds an account's signing secret is used before it is read again
MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read (the rest is dropped)
MAX_BACKOFF = 3600.0
USER_AGENT = "Jumbe-Webhooks/2"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int, base: float) -> timedelta:
    """``base``, twice that, four times … capped at an hour, with jitter."""
    return doubling_delay(base, attempts - 1, MAX_BACKOFF)


class _CheckedResolver(AbstractResolver):
    """Resolves receivers' names to the addresses the callback URL rules allow, and no others."""

    def __init__(self, urls: CallbackUrls) -> None:
        self.urls = urls

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        allowed = await self.urls.addresses(CallbackTarget("http", host, port, None))
        return [
            {
                "hostname": host,
                "host": str(a),
                "port": port,
                "family": socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for a in allowed
        ]

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class _Receiver:
    """One receiver's connection slots and how many of its callbacks are held here."""

    slots: asyncio.Semaphore
    held: int = 0


@dataclass(slots=True)
class _Targets:
    """Parsed callback URLs (a busy account uses one URL for everything): the rules' view
    and aiohttp's."""

    known: dict[str, tuple[CallbackTarget, URL] | InvalidCallbackUrl] = field(default_factory=dict)

    def of(self, url: str) -> tuple[CallbackTarget, URL]:
        found = self.known.get(url)
        if found is None:
            if len(self.known) > 10_000:
                self.known.clear()
            try:
                found = (parse(url), URL(url, encoded=False))
            except (InvalidCallbackUrl, ValueError) as exc:
                found = InvalidCallbackUrl(str(exc))
            self.known[url] = found
        if isinstance(found, InvalidCallbackUrl):
            raise found
        return found


class WebhookSender:
    def __init__(
        self,
        db: Database,
        urls: CallbackUrls,
        *,
        owner: str,
        timeout: float = 5.0,
        max_attempts: int = 10,
        per_receiver: int = 8,
        retry_base: float = 10.0,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self.db = db
        self.urls = urls
        self.owner = owner
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.per_receiver = per_receiver
        self.retry_base = retry_base
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._receivers: dict[tuple[str, str, int], _Receiver] = {}
        self._targets = _Targets()
        self._held = 0
        self._outcomes: list[outbox.Outcome] = []
        self._offered: list[NewCallback] = []
        self._secrets: dict[int, tuple[str, float]] = {}  # account: (secret, when read)
        self._session: aiohttp.ClientSession | None = None
        self._loop = LoopTask("webhooks")
        self._sending: set[asyncio.Task[None]] = set()

    def offer(self, callbacks: Sequence[NewCallback]) -> None:
        """Rows just committed, claimed for this node: sent from the next turn on."""
        self._offered.extend(callbacks)
        self._wake.set()

    def wake(self) -> None:
        """Callbacks became due (a dead node's were released): claim them now."""
        self._wake.set()

    async def start(self) -> None:
        released = await self.db.write(
            lambda conn: outbox.release(conn, owner=self.owner, now=utcnow())
        )
        if released:
            log.info(
                "webhooks: %d callback(s) in flight when the last run stopped are due", released
            )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=0,  # the cap is per receiver (below), not global
                limit_per_host=self.per_receiver,
                resolver=_CheckedResolver(self.urls),
                use_dns_cache=False,  # CallbackUrls caches, after checking
                keepalive_timeout=30,
            ),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": USER_AGENT},
            auto_decompress=False,
        )
        self._loop.start(self._run())

    async def stop(self) -> None:
        """Stop claiming; give callbacks in flight their timeout, then record what was learnt."""
        await self._loop.stop()
        if self._sending:
            _done, late = await asyncio.wait(self._sending, timeout=self.timeout)
            for task in late:
                task.cancel()  # their rows are released at the next start
            await asyncio.gather(*late, return_exceptions=True)
        await self._turn(claim=False)  # what was learnt is recorded
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                full = await self._turn(claim=True)
            except Exception:
                log.exception("webhooks: a turn failed; will retry")
                full = False
            await asyncio.sleep(TURN)
            if full:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()

    async def _turn(self, *, claim: bool) -> bool:
        """Record what was learnt, take what was offered, claim what is due; True when the
        claim was a full batch (more may be due)."""
        outcomes, self._outcomes = self._outcomes, []
        offered, self._offered = self._offered, []
        room = MAX_HELD - self._held - len(offered) if claim else 0
        overflow: list[int] = []
        if room < 0 or not claim:  # more than memory allows, or stopping: others take them
            keep = max(len(offered) + min(room, 0), 0) if claim else 0
            overflow = [c.id for c in offered[keep:]]
            offered = offered[:keep]
        room = min(CLAIM_BATCH, max(room, 0))
        if not outcomes and not offered and not overflow and room <= 0:
            return False
        now = utcnow()
        clock = time.monotonic()
        later = [(c.id, c.message_id) for c in offered if c.sequence > 1]
        unknown = sorted(
            {c.account_id for c in offered}
            - {a for a, (_, at) in self._secrets.items() if clock - at < SECRET_TTL}
        )

        def settle_and_claim(
            conn: Connection,
        ) -> tuple[set[int], dict[int, str], list[outbox.Callback]]:
            outbox.finish(conn, outcomes, now=now)
            outbox.put_back(conn, overflow, now=now)
            ready = outbox.first_of_their_messages(conn, later) if later else set()
            found = outbox.secrets(conn, unknown) if unknown else {}
            claimed: list[outbox.Callback] = []
            if room > 0:
                claimed = outbox.claim(
                    conn,
                    limit=room,
                    now=now,
                    lease=outbox.LEASE,
                    owner=self.owner,
                    skip_locked=not self.db.is_sqlite,
                )
            return ready, found, claimed

        try:
            ready, found, claimed = await self.db.write(settle_and_claim)
        except BaseException:
            self._outcomes[:0] = outcomes  # not recorded: keep them for the next turn
            self._offered[:0] = offered
            raise
        for account_id, secret in found.items():
            self._secrets[account_id] = (secret, clock)
        for c in offered:
            if c.sequence > 1 and c.id not in ready:
                continue  # waits for its message's earlier callback (put back, due with it)
            self._start(
                outbox.Callback(
                    c.id,
                    c.message_id,
                    c.url,
                    c.payload,
                    0,
                    c.delivery_id,
                    c.sequence,
                    self._secrets[c.account_id][0],
                )
            )
        for callback in claimed:
            self._start(callback)
        return room > 0 and len(claimed) == room

    def _start(self, callback: outbox.Callback) -> None:
        self._held += 1
        task = asyncio.create_task(self._deliver(callback))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, callback: outbox.Callback) -> None:
        receiver: _Receiver | None = None
        key: tuple[str, str, int] | None = None
        try:
            target, url = self._targets.of(callback.url)
            key = (target.scheme, target.host, target.port)
            receiver = self._receivers.get(key)
            if receiver is None:
                receiver = self._receivers[key] = _Receiver(asyncio.Semaphore(self.per_receiver))
            receiver.held += 1
            error = await self._post(callback, target, url, receiver)
        except Exception as exc:  # whatever went wrong, it is a failed attempt
            error = _describe(exc)
        finally:
            self._held -= 1
            if receiver is not None and key is not None:
                receiver.held -= 1
                if receiver.held <= 0:
                    self._receivers.pop(key, None)
        self._outcomes.append(self._outcome(callback, error))
        self._wake.set()

    async def _post(
        self, callback: outbox.Callback, target: CallbackTarget, url: URL, receiver: _Receiver
    ) -> str | None:
        """None when the receiver took the callback; else what went wrong."""
        if receiver.slots.locked():  # wait for one of the receiver's connections, not forever
            try:
                async with asyncio.timeout(self.timeout):
                    await receiver.slots.acquire()
            except TimeoutError:
                return f"no connection to the receiver free within {self.timeout:g} s"
        else:
            await receiver.slots.acquire()
        try:
            await self.urls.addresses(target)  # an IP literal is checked here; names on connect
            assert self._session is not None
            body = callback.payload.encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(callback.secret, body, int(time.time())),
                "X-Jumbe-Event": EVENT,
                "X-Jumbe-Delivery": callback.delivery_id,
            }
            if callback.sequence is not None:
                headers["X-Jumbe-Sequence"] = str(callback.sequence)
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.read(MAX_ANSWER)
                if not 200 <= response.status < 300:
                    return f"receiver answered HTTP {response.status}"
            return None
        finally:
            receiver.slots.release()

    def _outcome(self, callback: outbox.Callback, error: str | None) -> outbox.Outcome:
        attempts = callback.attempts + 1
        now = utcnow()
        if error is None:
            status, due, outcome = "delivered", now, "delivered"
        elif attempts >= self.max_attempts:
            status, due, outcome = "failed", now, "gave_up"
            log.warning(
                "webhook %s to %s abandoned after %d attempts: %s",
                callback.delivery_id,
                callback.url,
                attempts,
                error,
            )
        else:
            status, due, outcome = "pending", now + backoff(attempts, self.retry_base), "retry"
        metrics.webhook_deliveries.labels(outcome).inc()
        return outbox.Outcome(callback.id, callback.message_id, status, attempts, due, error)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError) and not text:
        return "the receiver did not answer in time"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
