"""Which kernels count as idle long enough to be shut down (the culling rule)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol


class KernelActivity(Protocol):
    """What the rule reads of a kernel: a KernelConnection has all three."""

    last_activity: float
    execution_state: str
    clients: int


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
