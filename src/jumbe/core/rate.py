"""A token bucket: a sustained rate with a burst allowance, decided without waiting.

Used where excess must be refused at once (an SMPP session over its submit
rate gets ESME_RTHROTTLED), not queued: a queue without bound is how one
flooding client slows everyone else.
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float | None = None, *, now: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._tokens = self.burst
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; ``now`` is a monotonic clock in seconds."""
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
