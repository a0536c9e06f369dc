"""Background work of the kernel layer (readying, reseeding, refills), kept and logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Coroutines run on their own: a reference is kept until they end, failures are logged,
    and `wait` lets those under way finish (cancelling them would leak kernels)."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Future[None]] = set()

    def run(self, work: Coroutine[Any, Any, None], about: str) -> asyncio.Future[None]:
        """Start `work`; `about` names what it works on in the failure's log line."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)

        def finished(done: asyncio.Future[None]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.error("%s: upkeep of %s failed: %s", self.owner, about, done.exception())

        task.add_done_callback(finished)
        return task

    async def wait(self, timeout: float) -> None:
        """Wait (up to `timeout` s) for the work under way, including work it starts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(list(self._tasks), timeout=deadline - loop.time())

    def __len__(self) -> int:
        return len(self._tasks)
