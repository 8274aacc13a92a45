"""Group commit: many concurrent callers, one transaction, each answered after it.

A database commit costs the same for one row as for a thousand (one fsync), so
writes that arrive while a commit is in flight are gathered and committed
together. There is no timer: at low load a write is committed at once, at high
load batches grow by themselves. Every caller still waits for *its* commit, so
"acknowledged" keeps meaning "durable".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

Handler = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class _Entry(Generic[T, R]):
    """What one caller queued: a single item, or a run of them answered together."""

    __slots__ = ("future", "items", "single")

    def __init__(self, items: list[T], future: asyncio.Future[Any], single: bool) -> None:
        self.items = items
        self.future = future
        self.single = single


class GroupCommit(Generic[T, R]):
    def __init__(self, handler: Handler[T, R], *, max_batch: int = 1000, name: str = "") -> None:
        self._handler = handler
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Entry[T, R] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.name = name
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"group-commit:{self.name}")

    async def stop(self) -> None:
        """Commit what was already submitted, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def submit(self, item: T) -> R:
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Queue an item now, synchronously; items are committed in the order they are queued."""
        future: asyncio.Future[R] = self._new_future()
        self._queue.put_nowait(_Entry([item], future, True))
        return future

    async def submit_many(self, items: Sequence[T]) -> list[R | BaseException]:
        """Submit many items (a bulk send) with one future per batch-sized run, not per item;
        they are committed in as few batches as the batch size allows; exceptions returned."""
        runs: list[asyncio.Future[list[R | BaseException]]] = []
        for start in range(0, len(items), self._max_batch):
            future: asyncio.Future[list[R | BaseException]] = self._new_future()
            self._queue.put_nowait(
                _Entry(list(items[start : start + self._max_batch]), future, False)
            )
            runs.append(future)
        results: list[R | BaseException] = []
        for future in runs:
            results.extend(await future)
        return results

    def _new_future(self) -> asyncio.Future[Any]:
        if self._task is None:
            raise RuntimeError(f"group commit {self.name!r} is not running")
        return asyncio.get_running_loop().create_future()

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.items)
            while size < self._max_batch and not self._queue.empty():
                entry = self._queue.get_nowait()
                if entry is None:
                    stopping = True
                    break
                batch.append(entry)
                size += len(entry.items)
            await self._commit(batch)

    async def _commit(self, batch: list[_Entry[T, R]]) -> None:
        items = [item for entry in batch for item in entry.items]
        try:
            results = list(await self._handler(items))
        except Exception as exc:  # the whole batch failed: every caller learns it
            log.exception("group commit %s: batch of %d failed", self.name, len(items))
            for entry in batch:
                if not entry.future.done():
                    entry.future.set_exception(exc)
            return
        self.batches += 1
        self.items += len(items)
        at = 0
        for entry in batch:
            mine = results[at : at + len(entry.items)]
            at += len(entry.items)
            if entry.future.done():  # the caller went away (cancelled); the write stands
                continue
            if not entry.single:
                entry.future.set_result(mine)
            elif isinstance(mine[0], BaseException):
                entry.future.set_exception(mine[0])
            else:
                entry.future.set_result(mine[0])
