"""Sliding one-minute windows: how often a key may fail, or call, before it gets 429."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from jumbe.services.errors import TooManyAttempts

WINDOW = 60.0  # seconds


class AttemptLimiter:
    """At most ``per_minute`` events per key in any sliding minute.

    Memory stays bounded by what happened in the last minute: a full window
    takes no more events (a refused attempt is not counted again), and windows
    that have emptied are swept once a minute, so keys that never come back
    (every wrong token is a new key) do not pile up.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._next_sweep = clock() + WINDOW

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may have another event; None when it may now."""
        window = self._events.get(key)
        if window is None:
            return None
        now = self._clock()
        _expire(window, now)
        if len(window) < self.per_minute:
            return None
        return max(1, math.ceil(window[0] + WINDOW - now))

    def check(self, key: str) -> None:
        wait = self.retry_after(key)
        if wait is not None:
            raise TooManyAttempts(f"Too many attempts: try again in {wait} s", retry_after=wait)

    def record(self, key: str) -> None:
        """Count one event for ``key``, unless its window is already full."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        window = self._events.setdefault(key, deque())
        _expire(window, now)
        if len(window) < self.per_minute:
            window.append(now)

    def attempt(self, key: str) -> None:
        """Count one call against the window, refusing it (TooManyAttempts) when full.

        For rate limits on successful calls (a priced check per partner), where
        every call counts and not only the failures.
        """
        self.check(key)
        self.record(key)

    def __len__(self) -> int:
        """Keys held: what the sweep keeps bounded."""
        return len(self._events)

    def _sweep(self, now: float) -> None:
        for key in list(self._events):
            window = self._events[key]
            _expire(window, now)
            if not window:
                del self._events[key]
        self._next_sweep = now + WINDOW


def _expire(window: deque[float], now: float) -> None:
    horizon = now - WINDOW
    while window and window[0] <= horizon:
        window.popleft()
