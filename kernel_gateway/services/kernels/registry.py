"""The kernels of a manager by id: every ManagedKernel from its start until it is GONE."""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import UnknownKernel
from .kernel import ManagedKernel


class KernelRegistry:
    """ManagedKernels by id; the manager adds and removes them, everyone else reads."""

    def __init__(self) -> None:
        self._kernels: dict[str, ManagedKernel] = {}

    def add(self, kernel: ManagedKernel) -> None:
        self._kernels[kernel.id] = kernel

    def remove(self, kernel_id: str) -> ManagedKernel | None:
        """Forget a kernel; the one forgotten, or None if it was not here."""
        return self._kernels.pop(kernel_id, None)

    def find(self, kernel_id: str) -> ManagedKernel | None:
        """Any kernel of the manager (handed out, warm or starting), or None."""
        return self._kernels.get(kernel_id)

    def get(self, kernel_id: str) -> ManagedKernel:
        """A handed-out kernel; raises UnknownKernel for any other id."""
        kernel = self._kernels.get(kernel_id)
        if kernel is None or not kernel.handed_out:
            raise UnknownKernel(kernel_id)
        return kernel

    def handed_out(self) -> list[ManagedKernel]:
        """The kernels handed out, in the order they started."""
        return [kernel for kernel in self._kernels.values() if kernel.handed_out]

    def count_handed_out(self) -> int:
        """How many kernels count against max_kernels."""
        return sum(1 for kernel in self._kernels.values() if kernel.handed_out)

    def __iter__(self) -> Iterator[ManagedKernel]:
        return iter(list(self._kernels.values()))

    def __len__(self) -> int:
        return len(self._kernels)

    def __contains__(self, kernel_id: object) -> bool:
        return kernel_id in self._kernels
