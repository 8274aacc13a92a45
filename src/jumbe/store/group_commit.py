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
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

Handler = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[T, R]):
    def __init__(self, handler: Handler[T, R], *, max_batch: int = 1000, name: str = "") -> None:
        self._handler = handler
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]] | None] = asyncio.Queue()
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
        if self._task is None:
            raise RuntimeError(f"group commit {self.name!r} is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return future

    async def submit_many(self, items: Sequence[T]) -> list[R | BaseException]:
        """Submit items that may land in one or several batches; exceptions are returned."""
        if self._task is None:
            raise RuntimeError(f"group commit {self.name!r} is not running")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            future: asyncio.Future[R] = loop.create_future()
            self._queue.put_nowait((item, future))
            futures.append(future)
        return list(await asyncio.gather(*futures, return_exceptions=True))

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                entry = self._queue.get_nowait()
                if entry is None:
                    stopping = True
                    break
                batch.append(entry)
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._handler(items)
        except Exception as exc:  # the whole batch failed: every caller learns it
            log.exception("group commit %s: batch of %d failed", self.name, len(items))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.items += len(items)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller went away (cancelled); the write stands
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
