"""The one long-running task of a background worker, started and stopped the same way,
and the loop most of them run.

Workers (dispatcher, webhooks, sweeper, mailer, receipt queries) each loop in a task
of their own; stopping cancels it and waits, so shutdown never leaves a loop
running against a closed database, and stopping twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class LoopTask:
    def __init__(self, name: str) -> None:
        self.name = name  # shown in task dumps and asyncio's debug logs
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: Coroutine[Any, Any, None]) -> None:
        self._task = asyncio.create_task(loop, name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def repeat(one_pass: Callable[[], Awaitable[object]], interval: float, *, what: str) -> None:
    """Run ``one_pass`` for ever, ``interval`` seconds apart, or at once again when it
    returns True (a full batch: a backlog). A pass that fails is logged and tried
    again at the next interval: housekeeping must outlive a database hiccup."""
    while True:
        try:
            more = await one_pass()
        except Exception:
            log.exception("%s: pass failed; will retry", what)
            more = False
        if more is not True:
            await asyncio.sleep(interval)
