"""The sliding windows and the authentication throttle, on a fake clock where time matters."""

from __future__ import annotations

import asyncio

import pytest

from jumbe.services.errors import TooManyAttempts, Unauthenticated
from jumbe.services.limits import AttemptLimiter
from jumbe.services.throttle import MAX_WAITING, Attempt, AuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_refuses_when_full_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = AttemptLimiter(3, clock=clock)
    for step in range(3):
        assert limiter.retry_after("a") is None
        limiter.record("a")
        clock.now += 10 * (step + 1)  # events at 1000, 1010, 1030
    assert clock.now == 1060
    assert limiter.retry_after("a") is None  # the first has left the window
    limiter.record("a")
    assert limiter.retry_after("a") == 10  # the one at 1010 leaves at 1070
    with pytest.raises(TooManyAttempts) as refused:
        limiter.check("a")
    assert refused.value.retry_after == 10
    assert limiter.retry_after("b") is None


def test_emptied_windows_are_swept() -> None:
    clock = Clock()
    limiter = AttemptLimiter(5, clock=clock)
    for n in range(1000):
        limiter.record(f"wrong-token-{n}")
    assert len(limiter) == 1000
    clock.now += 61
    limiter.record("one more")
    assert len(limiter) == 1


def test_a_full_window_is_not_extended_by_refused_attempts() -> None:
    clock = Clock()
    limiter = AttemptLimiter(2, clock=clock)
    limiter.record("a")
    limiter.record("a")
    clock.now += 30
    limiter.record("a")  # refused anyway: not counted
    assert limiter.retry_after("a") == 30


def test_failures_count_by_address_and_by_credential() -> None:
    throttle = AuthThrottle(2)
    wrong = Unauthenticated("wrong")
    first = Attempt.of("203.0.113.5", "token", "jmb_AAAAAA")
    assert throttle.failed(first, wrong) is wrong
    assert throttle.failed(Attempt.of("203.0.113.5", "token", "jmb_BBBBBB"), wrong) is wrong
    from_there = throttle.failed(Attempt.of("203.0.113.5", "token", "jmb_CCCCCC"), wrong)
    assert isinstance(from_there, TooManyAttempts)
    assert "from this address" in from_there.message
    elsewhere = Attempt.of("198.51.100.1", "token", "jmb_AAAAAA")
    assert throttle.failed(elsewhere, wrong) is wrong  # jmb_AAAAAA's second failure
    with_it = throttle.failed(Attempt.of("198.51.100.2", "token", "jmb_AAAAAA"), wrong)
    assert isinstance(with_it, TooManyAttempts)
    assert "with this credential" in with_it.message
    assert throttle.refusal(Attempt.of("198.51.100.3", "user", "someone")) is None


async def test_costly_checks_past_the_limit_take_turns() -> None:
    throttle = AuthThrottle(1)
    locked = Attempt.of("203.0.113.5", "user", "m2m-x")
    throttle.failed(locked, Unauthenticated("wrong"))
    running = 0
    most = 0

    async def check(attempt: Attempt) -> None:
        nonlocal running, most
        async with throttle.costly(attempt):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(check(locked) for _ in range(5)))
    assert most == 1
    free = Attempt.of("198.51.100.1", "user", "other")
    await asyncio.gather(*(check(free) for _ in range(5)))
    assert most == 5  # under the limits nothing waits


async def test_no_more_than_max_waiting_queue_for_a_turn() -> None:
    throttle = AuthThrottle(1)
    locked = Attempt.of("203.0.113.5", "user", "m2m-x")
    throttle.failed(locked, Unauthenticated("wrong"))
    release = asyncio.Event()

    async def hold() -> None:
        async with throttle.costly(locked):
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(MAX_WAITING)]
    await asyncio.sleep(0.01)
    with pytest.raises(TooManyAttempts):
        async with throttle.costly(locked):
            pass
    release.set()
    await asyncio.gather(*holders)
    async with throttle.costly(locked):
        pass  # the queue has drained
