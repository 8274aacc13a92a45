"""Group commit without a database: a handler that records the batches it is given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from jumbe.store.group_commit import GroupCommit


class Handler:
    """Answers each item with its double; an item "bad" is answered with its own error."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.fail_next = False
        self.gate: asyncio.Event | None = None
        self.called = asyncio.Event()

    async def __call__(self, items: list[object]) -> Sequence[object | BaseException]:
        self.batches.append(list(items))
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the transaction failed")
        return [ValueError(f"refused {i}") if i == "bad" else 2 * int(str(i)) for i in items]


async def in_flight(handler: Handler) -> None:
    await handler.called.wait()


Commits = tuple[GroupCommit[object, object], Handler]


@pytest.fixture
async def commits() -> AsyncIterator[Commits]:
    handler = Handler()
    group: GroupCommit[object, object] = GroupCommit(handler, max_batch=3, name="test")
    group.start()
    yield group, handler
    await group.stop()


async def test_a_lone_write_is_committed_at_once(commits: Commits) -> None:
    group, handler = commits
    assert await group.submit(21) == 42
    assert handler.batches == [[21]]


async def test_writes_that_arrive_during_a_commit_share_the_next_one(commits: Commits) -> None:
    group, handler = commits
    handler.gate = asyncio.Event()
    first = group.enqueue(1)
    await in_flight(handler)  # the first commit waits on the gate
    waiting = [group.enqueue(n) for n in (2, 3, 4, 5)]
    handler.gate.set()
    assert await first == 2
    assert await asyncio.gather(*waiting) == [4, 6, 8, 10]
    # in the order queued, and no batch larger than max_batch
    assert handler.batches == [[1], [2, 3, 4], [5]]
    assert group.batches == 3 and group.items == 5


async def test_an_item_refused_fails_only_its_own_caller(commits: Commits) -> None:
    group, handler = commits
    handler.gate = asyncio.Event()
    blocker = group.enqueue(0)
    await in_flight(handler)
    good, bad = group.enqueue(1), group.enqueue("bad")
    handler.gate.set()
    await blocker
    assert await good == 2
    with pytest.raises(ValueError, match="refused bad"):
        await bad


async def test_a_failed_transaction_fails_every_caller_in_it(commits: Commits) -> None:
    group, handler = commits
    handler.fail_next = True
    with pytest.raises(RuntimeError, match="the transaction failed"):
        await group.submit(1)
    assert await group.submit(2) == 4  # the next batch is committed as usual


async def test_many_items_are_answered_in_batch_sized_runs(commits: Commits) -> None:
    group, handler = commits
    results = await group.submit_many([1, "bad", 3, 4, 5])
    assert results[0] == 2 and isinstance(results[1], ValueError) and results[2:] == [6, 8, 10]
    assert [len(b) for b in handler.batches] == [3, 2]


async def test_a_caller_that_went_away_does_not_stop_the_others(commits: Commits) -> None:
    group, handler = commits
    handler.gate = asyncio.Event()
    blocker = group.enqueue(0)
    await in_flight(handler)
    gone, stays = group.enqueue(1), group.enqueue(2)
    gone.cancel()
    handler.gate.set()
    await blocker
    assert await stays == 4
    assert handler.batches[-1] == [1, 2]  # the write of the one that left still stands


async def test_stop_commits_what_was_queued_then_refuses_more() -> None:
    handler = Handler()
    group: GroupCommit[object, object] = GroupCommit(handler, name="stopping")
    with pytest.raises(RuntimeError, match="not running"):
        group.enqueue(1)
    group.start()
    queued = [group.enqueue(n) for n in (1, 2)]
    await group.stop()
    assert [f.result() for f in queued] == [2, 4]
    with pytest.raises(RuntimeError, match="not running"):
        group.enqueue(3)
