"""Helpers for tests of the kernel layer: a real manager per test, kernel pids, process checks."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil  # a dependency of ipykernel
from jupyter_client.kernelspec import KernelSpecManager

from kernel_gateway.errors import KernelQueueFull
from kernel_gateway.services.kernels.connection import KernelConnection
from kernel_gateway.services.kernels.events import KernelEvent, KernelState
from kernel_gateway.services.kernels.execution import ExecutionResult, execute
from kernel_gateway.services.kernels.manager import MappingKernelManager
from kernel_gateway.services.kernels.policy import KernelPolicy

KILL_SELF = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
SLEEP = "import time; time.sleep(30)"
IPYKERNEL_ARGV = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]

# A kernel that exits at once on its first `deaths` launches, then runs ipykernel; each launch
# adds a line to the log file named in argv[1].
DYING_KERNEL = """
import os, sys
log, deaths, connection_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log, "a") as out:
    out.write("launch\\n")
with open(log) as launches:
    if len(launches.readlines()) <= deaths:
        sys.exit(3)
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
"""


def dying_kernel_argv(launch_log: Path, deaths: int) -> list[str]:
    """argv of a kernel spec whose kernel dies on its first `deaths` launches."""
    return [sys.executable, "-c", DYING_KERNEL, str(launch_log), str(deaths), "{connection_file}"]


def write_kernel_spec(root: Path, name: str, argv: list[str]) -> Path:
    """Write a Python kernel spec `name` under `root`/kernels; return that kernels folder
    (add it to a KernelSpecManager's kernel_dirs, or set JUPYTER_PATH to `root`)."""
    folder = root / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv, "display_name": name, "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))
    return root / "kernels"


def spec_manager_with(root: Path, name: str, argv: list[str]) -> KernelSpecManager:
    """The usual kernel specs plus `name`, launched with `argv`."""
    specs = KernelSpecManager()
    specs.kernel_dirs = [*specs.kernel_dirs, str(write_kernel_spec(root, name, argv))]
    return specs


@asynccontextmanager
async def running_manager(
    kernel_spec_manager: KernelSpecManager | None = None,
    options: dict[str, Any] | None = None,
    **policy: Any,
) -> AsyncIterator[MappingKernelManager]:
    """A manager of real ipykernel kernels (with the manager `options` given), every kernel
    of it shut down on exit."""
    manager = MappingKernelManager(
        kernel_spec_manager=kernel_spec_manager or KernelSpecManager(),
        policy=KernelPolicy(**policy),
        **(options or {}),
    )
    try:
        yield manager
    finally:
        try:
            await manager.shutdown_all(now=True)
        finally:
            await release(manager)


async def release(manager: MappingKernelManager) -> None:
    """Make sure nothing of a manager outlives its test, even when its shutdown failed.

    Stops and kills (by pid) the kernel processes that are left, reaps them, and closes their
    sockets: left to the garbage collector they would fail some later test with
    ResourceWarnings, and the manager's ZeroMQ context could block for ever in `term`.
    """
    for km in list(manager._kernels.values()):
        km.stop_restarter()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(km.ready), 10)
        process = getattr(km.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            await asyncio.to_thread(process.wait)
        km.cleanup_resources()
    for kernel in manager.registry:
        kernel.connection.close()
    for pid in kernel_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    manager.context.destroy(linger=0)


async def run(connection: KernelConnection, *codes: str, timeout: float = 20) -> ExecutionResult:
    """Run cells on a kernel and return the last one's result, failing the test on an error."""
    results = await execute(connection, codes, timeout)
    for result in results:
        assert result.status == "ok", result.error
    return results[-1]


async def fill_queue(connection: KernelConnection) -> int:
    """Keep a kernel busy and send it 2 KB requests until its queue stays full (the kernel's
    receiving thread may still take a few more at first); return how many went out. Fails
    if the queue never fills."""
    connection.request("shell", "execute_request", {"code": SLEEP, "silent": False})
    await wait_for(lambda: connection.execution_state == "busy", 10, "the kernel to be busy")
    sent = _send_until_full(connection, 200_000)
    for _ in range(50):
        await asyncio.sleep(0.1)
        more = _send_until_full(connection, 200_000)
        if more == 0:
            return sent
        sent += more
    raise AssertionError("the kernel kept taking requests")


def _send_until_full(connection: KernelConnection, limit: int) -> int:
    """Send 2 KB execute requests until the kernel's queue refuses one; return how many went."""
    filler = {"code": "#" + "x" * 2000, "silent": False}
    for sent in range(limit):
        try:
            connection.request("shell", "execute_request", filler)
        except KernelQueueFull:
            return sent
    raise AssertionError("the kernel's queue never filled")


async def evaluate(connection: KernelConnection, expression: str) -> Any:
    """The value of a Python expression in the kernel (its repr, read back as a literal)."""
    result = await run(connection, f"print(repr({expression}))")
    return ast.literal_eval(result.stdout)


async def kernel_pid(connection: KernelConnection) -> int:
    """The process id of the kernel, as the kernel itself reports it."""
    pid = await evaluate(connection, "__import__('os').getpid()")
    assert isinstance(pid, int)
    return pid


def provisioner_pid(manager: MappingKernelManager, kernel_id: str) -> int:
    """The process id of a kernel, as its provisioner launched it."""
    pid = manager.get_kernel(kernel_id).provisioner.pid  # type: ignore[union-attr]
    assert isinstance(pid, int)
    return pid


def is_running(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie of ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kernel_children() -> list[int]:
    """Pids of the ipykernel processes this test process started that still run."""
    pids = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(child.cmdline()):
                pids.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


async def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `condition()` every `interval` s until true; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(interval)


def record_events(manager: MappingKernelManager) -> list[KernelEvent]:
    """Every kernel event the manager announces from now on, in order."""
    events: list[KernelEvent] = []
    manager.events.subscribe(events.append)
    return events


def moves(events: list[KernelEvent], kernel_id: str | None = None) -> list[tuple[str, str, str]]:
    """(old, new, reason) of the events (of one kernel), as plain strings."""
    return [
        (event.old.value if event.old else "", event.new.value, event.reason.value)
        for event in events
        if kernel_id is None or event.kernel_id == kernel_id
    ]


def states(events: list[KernelEvent], state: KernelState) -> list[str]:
    """Ids of the kernels that reached `state`, in order."""
    return [event.kernel_id for event in events if event.new is state]
