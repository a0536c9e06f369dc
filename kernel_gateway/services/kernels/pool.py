"""KernelPool: the borrow-and-return policy of a `Pool` (pooling.py), for notebook-http.

Each kernel is lent to one request at a time; a request borrows the kernel idle longest (so
sequential requests go round robin) or waits in a FIFO queue. A kernel whose request timed out
(or was stopped by the gateway: its client left, its response grew too large)
is interrupted (restarted if that doesn't take) before it serves again; one that dies is
replaced. Many pools can live on one manager, each with its own seed cells, folder and env.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ...errors import (
    CellTimeout,
    KernelQueueFull,
    KernelUnavailable,
    RunNotStarted,
    RunStopped,
    UnknownKernel,
)
from .connection import KernelConnection
from .execution import execute
from .kernel import ManagedKernel
from .launch import LaunchSpec, start_up
from .pooling import STOP_TIMEOUT, Pool

if TYPE_CHECKING:
    from .manager import MappingKernelManager

INTERRUPT_GRACE = 5.0
INTERRUPT_AGAIN = 0.5  # an interrupt sent before the kernel started the cell is lost: resend
log = logging.getLogger(__name__)

Prepare = Callable[[KernelConnection], Awaitable[None]]


class KernelPool(Pool):
    """`size` kernels of one kind lent out by `borrow()`, with their own seed cells, working
    directory and env (None: the manager's seed cells; the gateway's folder; no extra env).

    `prepare` (if given) is awaited on each kernel once it is seeded, after its launch or its
    restart, before it serves: the notebook-http mode's fast path installs its request runner
    there. It must not raise for a kernel that merely can't be prepared. With
    `restart_on_death`, jupyter_client restarts a kernel that died (same id, seeded again)
    instead of the pool replacing it: a served app's server keeps its address.
    """

    def __init__(
        self,
        manager: MappingKernelManager,
        size: int,
        kernel_name: str | None,
        seed_cells: tuple[str, ...] | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        seed_positions: tuple[int, ...] = (),
        prepare: Prepare | None = None,
        restart_on_death: bool = False,
    ) -> None:
        super().__init__(manager, max(size, 1), "kernel pool")
        self.prepare = prepare
        self.kernel_name = kernel_name
        self.seed_cells = seed_cells
        self.seed_positions = seed_positions  # of the seed cells in their notebook
        self.cwd = cwd
        self.env = dict(env or {})
        self.restart_on_death = restart_on_death  # False: a dead kernel is replaced instead
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
        with start_up("A kernel of the pool"):
            self.spec = self.manager.launch_spec(
                self.kernel_name,
                self.env,
                self.restart_on_death,
                self.seed_cells,
                self.cwd,
                self.seed_positions,
            )
            await self.fill()

    async def launch_member(self) -> ManagedKernel:
        assert self.spec is not None, "start() first"
        kernel = await self.manager.start(self.spec)
        await self._prepare(kernel)
        return kernel

    async def _prepare(self, kernel: ManagedKernel) -> None:
        if self.prepare is not None and not kernel.is_gone:
            await self.prepare(kernel.connection)

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
        await super().stop()

    # -- lending -----------------------------------------------------------------------------

    @asynccontextmanager
    async def borrow(self, max_wait: float = 0) -> AsyncIterator[KernelConnection]:
        """Lend a kernel for one request; KernelUnavailable after `max_wait` s (0: no limit)."""
        kernel = await self._take(max_wait)
        self._lent.add(kernel.id)
        self._all_back.clear()
        try:
            yield kernel.connection
        except RunNotStarted:  # nothing reached it: an interrupt would hit it idle
            self._give_back(kernel)
            raise
        except (CellTimeout, KernelQueueFull, RunStopped):  # alive but busy: free it first
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
            await self._interrupt(kernel)
        except (CellTimeout, KernelQueueFull):
            log.warning("Kernel %s ignored the interrupt; restarting it", kernel.id)
            try:
                await self.manager.restart_kernel(kernel.id, now=True)
                await self._prepare(kernel)
            except BaseException:
                self._returned(kernel)
                raise
        except (KernelUnavailable, UnknownKernel):
            self._returned(kernel)
            return  # it died meanwhile: the pool replaces it
        self._give_back(kernel)

    async def _interrupt(self, kernel: ManagedKernel) -> None:
        """Interrupt `kernel` until a `pass` runs on it; CellTimeout after INTERRUPT_GRACE s.

        A kernel ignores SIGINT between cells, so an interrupt sent just after the request
        (its client left at once) is lost: it is sent again while the `pass` waits.
        """
        finished = asyncio.ensure_future(execute(kernel.connection, ["pass"], INTERRUPT_GRACE))
        try:
            while not finished.done():
                await self.manager.interrupt_kernel(kernel.id)
                await asyncio.wait({finished}, timeout=INTERRUPT_AGAIN)
        finally:
            finished.cancel()
        finished.result()
