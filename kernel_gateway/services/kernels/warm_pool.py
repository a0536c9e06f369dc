"""Started kernels kept warm so that creating a kernel answers at once (take once, refill).

`POST /api/kernels` costs a process start (about half a second for ipykernel). With
`kernel_pool_size` > 0 the manager keeps that many kernels of the default kind started and
seeded, hands one out when a request for that kind arrives, and starts a replacement in the
background. A request's KERNEL_* variables are applied inside a Python kernel before it is
handed out (environment and working directory); any request the pool can't honour exactly
(another kernel name, a non-Python kernel with variables) starts a fresh kernel as before, and
so does one arriving when the warm kernel died while it waited (a warm kernel that dies is
shut down and replaced, not restarted in place).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...errors import CellTimeout, KernelUnavailable, UnknownKernel
from .connection import KernelConnection
from .events import KernelState, Reason
from .execution import execute
from .kernel import ManagedKernel
from .launch import LaunchSpec
from .pooling import Pool

if TYPE_CHECKING:
    from .manager import MappingKernelManager

APPLY_TIMEOUT = 10.0


def environment_code(env: Mapping[str, str]) -> str:
    """Python that sets `env` in a running kernel and enters KERNEL_WORKING_DIR if it exists."""
    literal = json.dumps(dict(env))
    return (
        "def __kg_apply_env():\n"
        "    import json, os\n"
        f"    env = json.loads({literal!r})\n"
        "    os.environ.update(env)\n"
        "    folder = env.get('KERNEL_WORKING_DIR', '')\n"
        "    if folder and os.path.isdir(folder):\n"
        "        os.chdir(folder)\n"
        "__kg_apply_env()\n"
        "del __kg_apply_env\n"
    )


def can_stand_in(warm_name: str, kernel_name: str, language: str, env: Mapping[str, str]) -> bool:
    """Whether a warm kernel of `warm_name` can stand for a fresh one started with `env`."""
    return kernel_name == warm_name and (not env or language == "python")


class WarmPool(Pool):
    """Started, seeded kernels of one kind, not handed out, waiting to be taken.

    The manager creates it (`start_warm_pool`) and asks it first in `start_kernel` (`take`);
    the pool launches its kernels through the manager and refills itself in the background.
    """

    leaving = frozenset({KernelState.RESTARTING, KernelState.DEAD, KernelState.GONE})

    def __init__(self, manager: MappingKernelManager, size: int, spec: LaunchSpec) -> None:
        super().__init__(manager, size, "warm pool")
        self.spec = spec

    def left(self, kernel: ManagedKernel) -> None:
        """A warm kernel that died while waiting is replaced, not restarted in place."""
        if not kernel.is_gone:
            self.tasks.run(self._discard(kernel), f"kernel {kernel.id}")

    async def _discard(self, kernel: ManagedKernel) -> None:
        with contextlib.suppress(UnknownKernel):
            await self.manager.discard(kernel.id, Reason.SHUTDOWN, now=True)

    async def start(self) -> None:
        """Fill the pool; raises what a launch raises."""
        await self.fill()

    async def launch_member(self) -> ManagedKernel:
        return await self.manager.launch(self.spec)

    async def take(self, kernel_name: str, env: Mapping[str, str]) -> ManagedKernel | None:
        """A warm kernel made to look freshly started with `env`, or None (start a fresh one).

        A warm kernel that is not ready and alive, or can't take the env, is shut down.
        """
        language = self.manager.spec_manager.get_kernel_spec(kernel_name).language
        while self.members and can_stand_in(self.spec.kernel_name, kernel_name, language, env):
            kernel = next(iter(self.members.values()))
            self.release(kernel)
            self.tasks.run(self.fill(), "a warm kernel")
            try:
                restarts = kernel.restarts
                usable = await self.usable(kernel) and await self.apply_env(kernel.connection, env)
                if usable and kernel.is_ready and kernel.restarts == restarts:  # same process
                    return kernel
            except (KernelUnavailable, CellTimeout):
                pass  # it died while waiting
            await self._discard(kernel)
        return None

    @staticmethod
    async def usable(kernel: ManagedKernel) -> bool:
        """Whether a warm kernel is READY and its process runs: one that died while waiting,
        before the restarter noticed, would lose what its new client sends first. (A process
        killed a moment ago still counts as running until its threads have exited: asking the
        kernel itself would close that gap too, for a round trip on every hand-out.)"""
        return kernel.is_ready and bool(await kernel.km.is_alive())

    @staticmethod
    async def apply_env(connection: KernelConnection, env: Mapping[str, str]) -> bool:
        """Set `env` inside the kernel; False if that failed (the caller starts a fresh one)."""
        if not env:
            return True
        (result,) = await execute(connection, [environment_code(env)], APPLY_TIMEOUT)
        return result.status == "ok"
