"""Culling: shutting kernels down once idle too long (the rule, and the loop applying it)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tornado.ioloop import PeriodicCallback

from ...errors import UnknownKernel
from .events import Reason

if TYPE_CHECKING:
    from .kernel import ManagedKernel

KernelFilter = Callable[[str], bool]


class KernelActivity(Protocol):
    """What the rule reads of a kernel: a ManagedKernel has all three."""

    @property
    def last_activity(self) -> float: ...

    @property
    def execution_state(self) -> str: ...

    @property
    def clients(self) -> int: ...


def idle_kernel_ids(
    kernels: Mapping[str, KernelActivity],
    now: float,
    timeout: float,
    cull_busy: bool,
    cull_connected: bool,
) -> Iterator[str]:
    """Ids of the kernels idle for over `timeout` seconds that the flags allow culling."""
    for kernel_id, kernel in kernels.items():
        if (
            now - kernel.last_activity > timeout
            and (cull_busy or kernel.execution_state != "busy")
            and (cull_connected or kernel.clients == 0)
        ):
            yield kernel_id


class CullableKernels(Protocol):
    """What the culler uses of the kernel manager: its kernels and its cull_* options."""

    cull_idle_timeout: int
    cull_interval: int
    cull_busy: bool
    cull_connected: bool
    log: logging.Logger | logging.LoggerAdapter[Any]

    def kernels(self) -> Sequence[ManagedKernel]: ...

    async def shutdown_kernel(
        self, kernel_id: str, now: bool = False, restart: bool = False, reason: Reason = ...
    ) -> None: ...


class IdleCuller:
    """Every `cull_interval` seconds, shuts down the manager's handed-out kernels that the rule
    (with the manager's `cull_*` options) finds idle, except those `exempt` keeps."""

    def __init__(self, manager: CullableKernels, exempt: KernelFilter) -> None:
        self.manager = manager
        self.exempt = exempt
        interval_ms = max(manager.cull_interval, 1) * 1000
        self._timer = PeriodicCallback(self.cull, interval_ms)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    async def cull(self) -> None:
        """Shut down every kernel idle for longer than cull_idle_timeout."""
        manager = self.manager
        kernels = {k.id: k for k in manager.kernels() if not self.exempt(k.id)}
        timeout = manager.cull_idle_timeout
        culled = idle_kernel_ids(
            kernels, time.time(), timeout, manager.cull_busy, manager.cull_connected
        )
        for kernel_id in list(culled):
            manager.log.warning("Culling kernel %s, idle for over %d s", kernel_id, timeout)
            with contextlib.suppress(UnknownKernel):  # shut down meanwhile
                await manager.shutdown_kernel(kernel_id, reason=Reason.CULLED)
