"""How long to wait before trying again: one doubling formula for every retry in Jumbe.

Carrier binds, message retries, callbacks, mail and SMPP deliveries all back off
the same way: ``first``, twice that, four times …, capped, spread by ``jitter``
so that what failed together (a receiver down for everyone) does not come back
together.
"""

from __future__ import annotations

import random
from datetime import timedelta

# 2**64 times any first delay is past every cap; beyond it a float would overflow
_MAX_DOUBLINGS = 64


def doubling_delay(first: float, doublings: int, cap: float, *, jitter: float = 0.2) -> timedelta:
    """``first`` seconds doubled ``doublings`` times, at most ``cap``, times 1 ± ``jitter``."""
    seconds = min(first * 2.0 ** min(max(doublings, 0), _MAX_DOUBLINGS), cap)
    if jitter:
        seconds *= random.uniform(1.0 - jitter, 1.0 + jitter)
    return timedelta(seconds=seconds)
