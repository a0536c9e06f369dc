"""Started kernels kept warm so that creating a kernel answers at once.

`POST /api/kernels` costs a process start (about half a second for ipykernel). With
`kernel_pool_size` > 0 the manager keeps that many kernels of the default kind started and
seeded, hands one out when a request for that kind arrives, and starts a replacement in the
background. A request's KERNEL_* variables are applied inside a Python kernel before it is
handed out (environment and working directory); any request the pool can't honour exactly (another
kernel name, a non-Python kernel with variables) starts a fresh kernel as before.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from jupyter_client.kernelspec import KernelSpecManager

from ...errors import CellTimeout, KernelUnavailable
from .connection import KernelConnection
from .execution import execute

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


class KernelSource(Protocol):
    """What the warm pool uses of the kernel manager."""

    connections: dict[str, KernelConnection]

    @property
    def spec_manager(self) -> KernelSpecManager: ...

    async def launch(self, name: str, env: Mapping[str, str], restart_on_death: bool) -> str: ...

    async def discard(self, kernel_id: str, now: bool = False, restart: bool = False) -> None: ...

    def run_in_background(
        self, work: Coroutine[Any, Any, None], kernel_id: str
    ) -> asyncio.Future[None]: ...


class WarmPool:
    """Ids of started, seeded kernels of one kind, waiting to be handed out.

    The manager creates it (`start_warm_pool`), asks it first in `start_kernel` (`take`), and
    tells it when a kernel is removed (`forget`); the pool launches its kernels through the
    manager and refills itself in the background.
    """

    def __init__(self, manager: KernelSource, size: int, kernel_name: str) -> None:
        self.manager = manager
        self.size = size
        self.kernel_name = kernel_name
        self.idle: deque[str] = deque()
        self.starting = 0

    def shortfall(self) -> int:
        """How many kernels to start to be full again."""
        return max(self.size - len(self.idle) - self.starting, 0)

    def can_serve(self, kernel_name: str, language: str, env: Mapping[str, str]) -> bool:
        """Whether a warm kernel can stand for a fresh one started with `env`."""
        return (
            bool(self.idle)
            and kernel_name == self.kernel_name
            and (not env or language == "python")
        )

    async def fill(self) -> None:
        """Start kernels until the pool is full (counting those already starting)."""
        missing = self.shortfall()
        self.starting += missing

        async def start_one() -> None:
            try:
                kernel_id = await self.manager.launch(self.kernel_name, {}, True)
            finally:
                self.starting -= 1
            self.idle.append(kernel_id)

        await asyncio.gather(*(start_one() for _ in range(missing)))

    async def take(self, kernel_name: str, env: Mapping[str, str]) -> str | None:
        """A warm kernel made to look freshly started with `env`, or None (start a fresh one).

        A warm kernel that can't take the env (or died while waiting) is shut down.
        """
        language = self.manager.spec_manager.get_kernel_spec(kernel_name).language
        while self.can_serve(kernel_name, language, env):
            kernel_id = self.idle.popleft()
            self.manager.run_in_background(self.fill(), "warm pool")
            connection = self.manager.connections.get(kernel_id)
            try:
                if connection is not None and await self.apply_env(connection, env):
                    return kernel_id
            except (KernelUnavailable, CellTimeout):
                pass  # it died while waiting
            if kernel_id in self.manager.connections:
                await self.manager.discard(kernel_id, now=True)
        return None

    def forget(self, kernel_id: str) -> None:
        """A kernel is being removed: if it was waiting here, drop it and refill."""
        if kernel_id in self.idle:
            self.idle.remove(kernel_id)
            self.manager.run_in_background(self.fill(), "warm pool")

    @staticmethod
    async def apply_env(connection: KernelConnection, env: Mapping[str, str]) -> bool:
        """Set `env` inside the kernel; False if that failed (the caller starts a fresh one)."""
        if not env:
            return True
        (result,) = await execute(connection, [environment_code(env)], APPLY_TIMEOUT)
        return result.status == "ok"
