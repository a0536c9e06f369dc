"""Pools: kernels of one LaunchSpec kept started for one purpose, each replaced when it goes.

`Pool` is the one abstraction: its members, their refill, its stop. Two policies build on it:

- `KernelPool` (borrow and return, notebook-http): each kernel is lent to one request at a
  time; a request borrows the kernel idle longest (so sequential requests go round robin) or
  waits in a FIFO queue. One whose request timed out is interrupted (restarted if that doesn't
  take) before it serves again. Many can live on one manager, each with its own settings.
- `WarmPool` (take once and refill, websocket mode; warm_pool.py): a kernel leaves the pool
  for good when `POST /api/kernels` takes it, and a replacement starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ...errors import (
    CellError,
    CellTimeout,
    GatewayError,
    KernelQueueFull,
    KernelStartFailed,
    KernelUnavailable,
    StartupError,
    UnknownKernel,
)
from .connection import KernelConnection
from .events import KernelEvent, KernelState, Reason
from .execution import execute
from .kernel import ManagedKernel
from .launch import LaunchSpec
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from .manager import MappingKernelManager

INTERRUPT_GRACE = 5.0
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
        """Stop refilling, let upkeep under way end (up to `timeout` s), shut the members down."""
        self.stopping = True
        await self.tasks.wait(timeout)
        self._unsubscribe()
        members, self.members = list(self.members), {}
        await asyncio.gather(*(self._shut_down(kernel_id) for kernel_id in members))

    async def _shut_down(self, kernel_id: str) -> None:
        with contextlib.suppress(UnknownKernel):
            await self.manager.discard(kernel_id, Reason.SHUTDOWN)


class KernelPool(Pool):
    """`size` kernels of one kind lent out by `borrow()`, with their own seed cells, working
    directory and env (None: the manager's seed cells; the gateway's folder; no extra env)."""

    def __init__(
        self,
        manager: MappingKernelManager,
        size: int,
        kernel_name: str | None,
        seed_cells: tuple[str, ...] | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(manager, max(size, 1), "kernel pool")
        self.kernel_name = kernel_name
        self.seed_cells = seed_cells
        self.cwd = cwd
        self.env = dict(env or {})
        self.spec: LaunchSpec | None = None
        self._idle: deque[ManagedKernel] = deque()
        self._lent: set[str] = set()
        self._all_back = asyncio.Event()
        self._all_back.set()
        self._waiters: deque[asyncio.Future[ManagedKernel]] = deque()

    # -- read-only stats ---------------------------------------------------------------------

    @property
    def idle(self) -> int:
        """Kernels waiting for a request."""
        return len(self._idle)

    @property
    def busy(self) -> int:
        """Kernels lent to a request (or being recovered from a timed-out one)."""
        return len(self._lent)

    @property
    def queued(self) -> int:
        """Requests waiting for a kernel."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start and seed every kernel; StartupError if any fails."""
        try:
            self.spec = self.manager.launch_spec(
                self.kernel_name, self.env, False, self.seed_cells, self.cwd
            )
            await self.fill()
        except CellError as err:
            raise StartupError(f"A seed cell failed: {err}") from err
        except (GatewayError, KernelStartFailed, OSError, RuntimeError) as err:
            raise StartupError(f"A kernel of the pool failed to start: {err}") from err

    async def launch_member(self) -> ManagedKernel:
        assert self.spec is not None, "start() first"
        return await self.manager.start(self.spec)

    def joined(self, kernel: ManagedKernel) -> None:
        self._give_back(kernel)

    def left(self, kernel: ManagedKernel) -> None:
        with contextlib.suppress(ValueError):
            self._idle.remove(kernel)
        self._returned(kernel)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Refuse new borrows, wait (up to `timeout` s) for those in flight, then stop upkeep
        and shut this pool's kernels down."""
        self.stopping = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(KernelUnavailable("The kernel pool is stopping"))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._all_back.wait(), timeout)
        self._idle.clear()
        await super().stop(timeout)

    # -- lending -----------------------------------------------------------------------------

    @asynccontextmanager
    async def borrow(self, max_wait: float = 0) -> AsyncIterator[KernelConnection]:
        """Lend a kernel for one request; KernelUnavailable after `max_wait` s (0: no limit)."""
        kernel = await self._take(max_wait)
        self._lent.add(kernel.id)
        self._all_back.clear()
        try:
            yield kernel.connection
        except (CellTimeout, KernelQueueFull):  # alive but stuck: free it before reuse
            self.tasks.run(self._recover(kernel), f"kernel {kernel.id}")
            raise
        except KernelUnavailable:
            self._returned(kernel)
            raise
        except BaseException:
            self._give_back(kernel)
            raise
        else:
            self._give_back(kernel)

    async def _take(self, max_wait: float) -> ManagedKernel:
        if self.stopping:
            raise KernelUnavailable("The kernel pool is stopping")
        while self._idle:
            kernel = self._idle.popleft()
            if kernel.id in self.members and not kernel.is_gone:
                return kernel
        waiter: asyncio.Future[ManagedKernel] = asyncio.get_running_loop().create_future()
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

    def _give_back(self, kernel: ManagedKernel) -> None:
        self._returned(kernel)
        if kernel.id not in self.members or kernel.is_gone or self.stopping:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._lent.add(kernel.id)
                self._all_back.clear()
                waiter.set_result(kernel)
                return
        self._idle.append(kernel)

    def _returned(self, kernel: ManagedKernel) -> None:
        self._lent.discard(kernel.id)
        if not self._lent:
            self._all_back.set()

    async def _recover(self, kernel: ManagedKernel) -> None:
        """Bring a kernel whose request timed out (or that stopped reading) back to idle,
        restarting it if needed."""
        try:
            await self.manager.interrupt_kernel(kernel.id)
            await execute(kernel.connection, ["pass"], INTERRUPT_GRACE)
        except (CellTimeout, KernelQueueFull):
            log.warning("Kernel %s ignored the interrupt; restarting it", kernel.id)
            try:
                await self.manager.restart_kernel(kernel.id, now=True)
            except BaseException:
                self._returned(kernel)
                raise
        except (KernelUnavailable, UnknownKernel):
            self._returned(kernel)
            return  # it died meanwhile: the pool replaces it
        self._give_back(kernel)
