"""Sliding one-minute windows: how often a client may fail, or call, before it gets 429."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from jumbe.services.errors import TooManyAttempts


class AttemptLimiter:
    """Counts failed credentials per client; past the limit, further tries get 429.

    One rule for every face (REST tokens, SMPP binds, OAuth): the same client
    address cannot guess credentials faster than ``per_minute`` failures.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def check(self, client: str) -> None:
        window = self._recent(client)
        if len(window) >= self.per_minute:
            raise TooManyAttempts("Too many attempts: wait a minute before trying again")

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        window = self._failures[client]
        horizon = time.monotonic() - 60.0
        while window and window[0] < horizon:
            window.popleft()
        if not window:
            # keep the dict from growing with every address ever seen
            self._failures.pop(client, None)
            window = self._failures[client]
        return window

    def attempt(self, client: str) -> None:
        """Count one call against the window, refusing it (TooManyAttempts) when full.

        For rate limits on successful calls (a priced check per partner), where
        every call counts and not only the failures.
        """
        self.check(client)
        self.failed(client)
