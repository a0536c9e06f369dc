"""Pool: kernels of one LaunchSpec kept started for one purpose, each replaced when it goes.

The one pool abstraction; two policies build on it: `KernelPool` (pool.py, borrow and return,
notebook-http) and `WarmPool` (warm_pool.py, take once and refill, websocket mode). A pool
hears its members' deaths and removals through the manager's kernel events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ...errors import UnknownKernel
from .events import KernelEvent, KernelState, Reason
from .kernel import ManagedKernel
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from .manager import MappingKernelManager

STOP_TIMEOUT = 10.0
GONE_STATES = frozenset({KernelState.DEAD, KernelState.GONE})
log = logging.getLogger(__name__)


def missing(size: int, members: int, starting: int) -> int:
    """How many kernels to start for a pool of `size` to be full again."""
    return max(size - members - starting, 0)


class Pool:
    """Members launched by `launch_member`, kept at `size`: one that dies or is shut down is
    replaced in the background (until `stop`)."""

    leaving = GONE_STATES  # the states in which a member leaves the pool

    def __init__(self, manager: MappingKernelManager, size: int, owner: str) -> None:
        self.manager = manager
        self.size = size
        self.members: dict[str, ManagedKernel] = {}  # oldest first
        self.starting = 0
        self.stopping = False
        self.tasks = BackgroundTasks(owner)
        self._unsubscribe = manager.events.subscribe(self._on_event)

    async def launch_member(self) -> ManagedKernel:
        """Start one kernel for the pool (the policy's way)."""
        raise NotImplementedError

    def joined(self, kernel: ManagedKernel) -> None:
        """A new member is ready to serve."""

    def left(self, kernel: ManagedKernel) -> None:
        """A member died or was shut down."""

    def kernel_ids(self) -> list[str]:
        """The members' ids, oldest first."""
        return list(self.members)

    async def fill(self) -> None:
        """Start kernels until the pool is full (counting those already starting)."""
        count = missing(self.size, len(self.members), self.starting)
        self.starting += count
        await asyncio.gather(*(self._add_one() for _ in range(count)))

    async def _add_one(self) -> None:
        try:
            kernel = await self.launch_member()
        finally:
            self.starting -= 1
        if self.stopping or kernel.is_gone:
            with contextlib.suppress(UnknownKernel):
                await self.manager.discard(kernel.id, Reason.SHUTDOWN, now=True)
            return
        self.members[kernel.id] = kernel
        self.joined(kernel)

    def release(self, kernel: ManagedKernel) -> None:
        """Take a member out of the pool for good (it is the caller's now)."""
        self.members.pop(kernel.id, None)

    def _on_event(self, event: KernelEvent) -> None:
        """The one "kernel is gone" path for pools: drop a member that died or went away."""
        kernel = self.members.get(event.kernel_id)
        if kernel is None or event.new not in self.leaving:
            return
        del self.members[event.kernel_id]
        self.left(kernel)
        if not self.stopping:
            self.tasks.run(self.replace(), "a replacement kernel")

    async def replace(self) -> None:
        await self.fill()
        log.info("%s: a new kernel replaced one that went away", self.tasks.owner)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop refilling, let upkeep under way end (up to `timeout` s: a refill's launch
        cancelled half way would leak its kernel), shut the members down."""
        self.stopping = True
        await self.tasks.wait(timeout)
        self._unsubscribe()
        members, self.members = list(self.members), {}
        await asyncio.gather(*(self._shut_down(kernel_id) for kernel_id in members))

    async def _shut_down(self, kernel_id: str) -> None:
        with contextlib.suppress(UnknownKernel):
            await self.manager.discard(kernel_id, Reason.SHUTDOWN)
