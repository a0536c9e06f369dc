"""A pool of started, seeded kernels, each lent to one request at a time.

A request borrows the kernel that has been idle longest (so sequential requests go round
robin) or waits in a FIFO queue. A kernel that dies is replaced in the background; one whose
request timed out is interrupted (restarted if that doesn't take) before it serves again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from ...errors import (
    CellError,
    CellTimeout,
    KernelQueueFull,
    KernelStartFailed,
    KernelUnavailable,
    StartupError,
    UnknownKernel,
)
from .connection import KernelConnection
from .execution import execute
from .manager import MappingKernelManager

INTERRUPT_GRACE = 5.0
log = logging.getLogger(__name__)


class KernelPool:
    """`size` kernels of one kind, lent out by `borrow()`."""

    def __init__(self, manager: MappingKernelManager, size: int, kernel_name: str | None) -> None:
        self.manager = manager
        self.size = max(size, 1)
        self.kernel_name = kernel_name
        self._members: set[str] = set()
        self._idle: deque[str] = deque()
        self._waiters: deque[asyncio.Future[str]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        manager.death_listeners.append(self._on_death)

    async def start(self) -> None:
        """Start and seed every kernel; StartupError if any fails."""
        try:
            kernel_ids = await asyncio.gather(*(self._start_one() for _ in range(self.size)))
        except CellError as err:
            raise StartupError(f"A seed cell failed: {err}") from err
        except (KernelStartFailed, OSError, RuntimeError) as err:
            raise StartupError(f"A kernel of the pool failed to start: {err}") from err
        for kernel_id in kernel_ids:
            self._give_back(kernel_id)

    async def _start_one(self) -> str:
        kernel_id = await self.manager.start_kernel(self.kernel_name, restart_on_death=False)
        self._members.add(kernel_id)
        return kernel_id

    @asynccontextmanager
    async def borrow(self, max_wait: float = 0) -> AsyncIterator[KernelConnection]:
        """Lend a kernel for one request; KernelUnavailable after `max_wait` s (0: no limit)."""
        kernel_id = await self._take(max_wait)
        try:
            yield self.manager.connection(kernel_id)
        except (CellTimeout, KernelQueueFull):  # alive but stuck: free it before reuse
            self._spawn(self._recover(kernel_id))
            raise
        except KernelUnavailable:
            raise
        except BaseException:
            self._give_back(kernel_id)
            raise
        else:
            self._give_back(kernel_id)

    async def _take(self, max_wait: float) -> str:
        while self._idle:
            kernel_id = self._idle.popleft()
            if kernel_id in self.manager.connections:
                return kernel_id
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, max_wait or None)
        except asyncio.TimeoutError:
            retry = max(int(max_wait), 1)
            raise KernelUnavailable(
                f"No kernel became free within {max_wait} seconds", retry_after=retry
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _give_back(self, kernel_id: str) -> None:
        if kernel_id not in self._members or kernel_id not in self.manager.connections:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(kernel_id)
                return
        self._idle.append(kernel_id)

    async def _recover(self, kernel_id: str) -> None:
        """Bring a kernel whose request timed out (or that stopped reading) back to idle,
        restarting it if needed."""
        try:
            await self.manager.interrupt_kernel(kernel_id)
            await execute(self.manager.connection(kernel_id), ["pass"], INTERRUPT_GRACE)
        except (CellTimeout, KernelQueueFull):
            log.warning("Kernel %s ignored the interrupt; restarting it", kernel_id)
            await self.manager.restart_kernel(kernel_id, now=True)
        except (KernelUnavailable, UnknownKernel):
            return  # it died meanwhile: the death listener replaces it
        self._give_back(kernel_id)

    def _on_death(self, kernel_id: str) -> None:
        if kernel_id in self._members:
            self._members.discard(kernel_id)
            self._spawn(self._replace())

    async def _replace(self) -> None:
        kernel_id = await self._start_one()
        log.info("Kernel %s joined the pool in place of a dead one", kernel_id)
        self._give_back(kernel_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Kernel pool upkeep failed: %s", task.exception())

    async def stop(self) -> None:
        """Stop upkeep; the manager shuts the kernels down."""
        for task in list(self._tasks):
            task.cancel()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(KernelUnavailable("The gateway is shutting down"))
        self.manager.death_listeners.remove(self._on_death)
