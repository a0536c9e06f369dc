"""Readiness and seeding: a kernel becomes READY once it answers and its seed cells have run,
after its launch and again after every restart; its death ends in DEAD, then GONE.

Websocket clients' messages are held while a kernel is not READY (the hubs hear the events),
so after an automatic restart a client's code reaches the new process after its seed cells.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ...errors import KernelUnavailable
from .events import KernelState, Reason
from .execution import execute
from .failures import cell_failure
from .kernel import ManagedKernel
from .launch import on_host
from .tasks import BackgroundTasks

Discard = Callable[..., Coroutine[Any, Any, None]]  # MappingKernelManager.discard


async def answer_and_seed(kernel: ManagedKernel) -> None:
    """Wait for the kernel to answer, then run its seed cells; CellError if one fails."""
    await kernel.connection.wait_ready(kernel.km.ready_timeout)
    if not kernel.seed_cells:
        return
    seeds = kernel.seed_cells
    for index, result in enumerate(await execute(kernel.connection, seeds)):
        if result.error:
            raise cell_failure(result.error, kernel.spec.seed_position(index), seeds[index])


class Readiness:
    """Brings kernels to READY (at launch, after restarts) and lets dead ones go.

    The manager owns one; `discard` is its way to shut a kernel down and forget it.
    """

    def __init__(self, tasks: BackgroundTasks, discard: Discard, log: logging.Logger | Any) -> None:
        self.tasks = tasks
        self.discard = discard
        self.log = log

    def watch(self, kernel: ManagedKernel) -> None:
        """A kernel's process was launched: it is STARTING; connect, and follow its restarts
        and death (jupyter_client's restarter callbacks)."""
        kernel.transition(KernelState.STARTING, Reason.LAUNCH)
        kernel.connection.open()
        km = kernel.km
        km.restart_on_death = kernel.spec.restart_on_death  # read by its restarter at a death
        km.on_started = lambda: self.on_started(kernel)
        km.add_restart_callback(lambda: self.on_auto_restart(kernel), "restart")
        km.add_restart_callback(lambda: self.on_death(kernel), "dead")

    async def make_ready(self, kernel: ManagedKernel, wait: bool) -> None:
        """READY once answering and seeded: awaited, or (`wait` False, no seed cells) in the
        background, the kernel being handed out meanwhile as STARTING."""
        if wait or kernel.seed_cells:
            await answer_and_seed(kernel)
            kernel.transition(KernelState.READY, Reason.LAUNCH)
            return
        self.tasks.run(self._ready_in_background(kernel), f"kernel {kernel.id}")

    async def _ready_in_background(self, kernel: ManagedKernel) -> None:
        """Wait for a kernel handed out at launch to answer; shut it down if it never does."""
        try:
            await answer_and_seed(kernel)
        except (KernelUnavailable, TimeoutError) as err:
            if not kernel.is_gone:
                self.log.error(
                    "Kernel %s never became ready (%s); shutting it down", kernel.id, err
                )
                await self.discard(kernel.id, Reason.FAILED, now=True)
            return
        if kernel.state is KernelState.STARTING:
            kernel.transition(KernelState.READY, Reason.LAUNCH)

    def on_started(self, kernel: ManagedKernel) -> None:
        """Its process (re)started: reconnect, unless it was shut down meanwhile."""
        if not kernel.is_gone:
            kernel.connection.open()

    def on_auto_restart(self, kernel: ManagedKernel) -> None:
        """jupyter_client restarts a kernel whose process died: seed the new one, holding its
        clients ("restarting" then "idle", as Jupyter servers tell them) until then."""
        if kernel.is_settling:  # the readying under way goes on with the new process
            self.log.warning("Kernel %s died before it was ready; restarting it", kernel.id)
            return
        self.log.warning("Kernel %s%s died; restarting it", kernel.id, on_host(kernel.km))
        kernel.transition(KernelState.RESTARTING, Reason.AUTO)
        kernel.tell_clients("restarting")
        self.tasks.run(self.reseed(kernel, Reason.AUTO), f"kernel {kernel.id}")

    async def reseed(self, kernel: ManagedKernel, reason: Reason) -> None:
        """Make a restarted kernel answer and seed it again, then end its restart (READY).

        A failure ends the restart too, then is raised (unless the kernel went away).
        """
        try:
            await answer_and_seed(kernel)
        except (KernelUnavailable, TimeoutError):
            if kernel.is_gone:
                return
            raise
        finally:
            if kernel.state is KernelState.RESTARTING:
                if reason is Reason.AUTO:
                    kernel.tell_clients("idle")
                kernel.transition(KernelState.READY, reason)

    def on_death(self, kernel: ManagedKernel) -> None:
        """Its process died and is not restarted: tell its clients, then let it go."""
        self.log.warning("Kernel %s%s died", kernel.id, on_host(kernel.km))
        kernel.tell_clients("dead")
        kernel.transition(KernelState.DEAD, Reason.DIED)
        self.tasks.run(self.discard(kernel.id, Reason.DIED, now=True), f"kernel {kernel.id}")
