"""A background pass run every few seconds until stopped: the engine's simplest worker.

A pass that fails is logged and tried again at the next tick, so one bad row or a
database that is briefly away never ends the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    """``work`` returning True means it stopped short of a backlog: it runs again at once."""

    def __init__(self, name: str, work: Callable[[], Awaitable[Any]], *, interval: float) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            more = False
            try:
                more = await self.work() is True
            except Exception:
                log.exception("%s: pass failed; will retry", self.name)
            if not more:
                await asyncio.sleep(self.interval)
