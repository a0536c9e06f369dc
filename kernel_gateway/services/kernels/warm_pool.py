"""Started kernels kept warm so that creating a kernel answers at once.

`POST /api/kernels` costs a process start (about half a second for ipykernel). With
`kernel_pool_size` > 0 the manager keeps that many kernels of the default kind started and
seeded, hands one out when a request for that kind arrives, and starts a replacement in the
background. A request's KERNEL_* variables are applied inside a Python kernel before it is
handed out (environment and working directory); any request the pool can't honour exactly (another
kernel name, a non-Python kernel with variables) starts a fresh kernel as before.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping

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


class WarmPool:
    """Ids of started, seeded kernels of one kind, waiting to be handed out."""

    def __init__(self, size: int, kernel_name: str) -> None:
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

    @staticmethod
    async def apply_env(connection: KernelConnection, env: Mapping[str, str]) -> bool:
        """Set `env` inside the kernel; False if that failed (the caller starts a fresh one)."""
        if not env:
            return True
        (result,) = await execute(connection, [environment_code(env)], APPLY_TIMEOUT)
        return result.status == "ok"
