"""Launching a kernel: what to start (`LaunchSpec`), one jupyter_client manager per kernel,
and the launch itself, with one more try for a kernel that dies before it answers.

jupyter_client 8.10.0 offers no public hook for "the process (re)started" nor for the
shutdown poll interval: `GatewayKernelManager` overrides `_async_post_start_kernel` and
`_async_finish_shutdown`, the methods its start and shutdown call directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from jupyter_client.ioloop import AsyncIOLoopKernelManager, AsyncIOLoopKernelRestarter
from jupyter_client.manager import KernelManager
from jupyter_client.multikernelmanager import AsyncMultiKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import default

from ...errors import (
    CellError,
    GatewayError,
    KernelStartFailed,
    KernelUnavailable,
    StartupError,
    UnknownKernel,
)
from .encryption import check_provisioned, check_supported, describe_transport
from .events import Reason
from .kernel import ManagedKernel
from .policy import KernelPolicy, kernel_env, launch_timeout

if TYPE_CHECKING:
    from .manager import MappingKernelManager

LAUNCHES_OF_A_KERNEL_NOT_RESTARTED = 2
SHUTDOWN_POLL_INTERVAL = 0.01
JUPYTER_RESTART_LIMIT = 5  # jupyter_client's default restart_limit
KERNEL_READY_TIMEOUT = 60.0  # seconds a launched kernel has to answer, unless its env says


@dataclass(frozen=True)
class LaunchSpec:
    """What to start: a kernel spec name, the client's env, seed cells, working directory.

    `cwd` None means KERNEL_WORKING_DIR from the env if that folder exists, else the
    gateway's own; `restart_on_death` False lets a dead kernel go (pools replace theirs).
    """

    kernel_name: str
    env: Mapping[str, str] = field(default_factory=dict)
    seed_cells: tuple[str, ...] = ()
    cwd: str | None = None
    restart_on_death: bool = True
    # each seed cell's 1-based position in its notebook, for error messages (empty: 1, 2, ...)
    seed_positions: tuple[int, ...] = ()

    def seed_position(self, index: int) -> int:
        """The notebook position of seed cell `index` (0-based among the seed cells)."""
        return self.seed_positions[index] if index < len(self.seed_positions) else index + 1


class QuickKernelRestarter(AsyncIOLoopKernelRestarter):
    """Checks a kernel's process every half second (jupyter_client's default is 3 s), so a
    request on a kernel that died learns it at once; no restarts for a kernel that asked for
    none."""

    @default("time_to_dead")
    def _time_to_dead_default(self) -> float:
        return 0.5

    @default("restart_limit")
    def _restart_limit_default(self) -> int:
        restarts = getattr(self.kernel_manager, "restart_on_death", True)
        return JUPYTER_RESTART_LIMIT if restarts else 0


def on_host(km: KernelManager | None) -> str:
    """ " on HOST" for a kernel a remote provisioner runs (for log lines and errors), else ""."""
    if km is None or km.provisioner is None or isinstance(km.provisioner, LocalProvisioner):
        return ""
    host = getattr(km.provisioner, "assigned_host", "") or km.get_connection_info().get("ip")
    return f" on {host}" if host else ""


class GatewayKernelManager(AsyncIOLoopKernelManager):
    """One kernel's jupyter_client manager; tells the gateway each time its process starts."""

    on_started: Callable[[], None] | None = None
    restart_on_death = True
    ready_timeout = KERNEL_READY_TIMEOUT
    interrupt_before_shutdown = True  # False once it is shut down before it answered

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt the kernel, unless it is being shut down before it ever answered.

        jupyter_client (8.10.0, no public hook) interrupts every kernel before shutting it
        down; a kernel that hasn't answered yet is still importing, has nothing to interrupt,
        and SIGINT would end it with a KeyboardInterrupt traceback in the gateway's log.
        """
        if self.shutting_down and not self.interrupt_before_shutdown:
            return
        await super()._async_interrupt_kernel()

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        """Launch with the timeout the kernel's env asks for (KERNEL_LAUNCH_TIMEOUT), if any:
        the provisioner's launch timeout (a remote one has it) and the wait for an answer."""
        seconds = launch_timeout(kw.get("env") or {})
        if seconds is not None:
            self.ready_timeout = seconds
            if isinstance(getattr(self.provisioner, "launch_timeout", None), (int, float)):
                self.provisioner.launch_timeout = math.ceil(seconds)  # type: ignore[union-attr]
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_request_shutdown(self, restart: bool = False) -> None:
        """Ask a local kernel to shut down; end a remote provisioner's kernel with SIGTERM.

        gateway_provisioners' launchers run a listener child, the gateway's only way to signal
        the kernel, which the kernel never reaps. A shutdown_request makes ipykernel terminate
        its children before exiting: the listener then stays a zombie and ipykernel keeps
        waiting for it (~29 s) while jupyter_client, finding the listener gone, takes the kernel
        for ended. So the kernel is signalled while the listener still answers, then the
        listener is let go.
        """
        if self.provisioner is None or isinstance(self.provisioner, LocalProvisioner):
            await super()._async_request_shutdown(restart)
            return
        await self.provisioner.send_signal(signal.SIGTERM)
        await self.provisioner.shutdown_requested(restart=restart)

    @default("restarter_class")
    def _restarter_class_default(self) -> type:
        return QuickKernelRestarter

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        await super()._async_post_start_kernel(**kw)
        if self.on_started is not None:
            self.on_started()

    async def _async_finish_shutdown(
        self, waittime: float | None = None, pollinterval: float = 0.1, restart: bool = False
    ) -> None:
        """Wait for the process to exit as jupyter_client does, but look every 10 ms instead
        of every 100: an ipykernel exits within a few ms of its shutdown_request, and
        DELETE, restart and the gateway's own shutdown all wait for it.

        Then whatever is left of a local kernel's process group is killed: ipykernel ends
        the children it can find, but not one that was detached (a server started with `&`
        from a shell), nor do other kernels; such a process would outlive its kernel and keep
        its port. (A kernel killed outright is killed with its group by jupyter_client.)
        """
        group = self.process_group()
        await super()._async_finish_shutdown(waittime, SHUTDOWN_POLL_INTERVAL, restart)
        if group is not None:
            kill_group(group)

    def process_group(self) -> int | None:
        """The process group of a local kernel (its own: jupyter_client starts it in a new
        session), None for a remote one."""
        if not isinstance(self.provisioner, LocalProvisioner):
            return None
        pgid = self.provisioner.pgid
        return pgid if isinstance(pgid, int) and pgid > 1 and pgid != os.getpgrp() else None


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a kernel's process group; nothing if it is empty. (The kernel
    led the group, so its id is not reused while the group has members; only in the moment
    after an empty group's end could a new group have taken it, which the gateway accepts.)"""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def launch_options(policy: KernelPolicy, spec: LaunchSpec) -> dict[str, Any]:
    """jupyter_client's start options for `spec`: the whole env, and the working directory."""
    options: dict[str, Any] = {"env": kernel_env(policy, spec.env)}
    working_dir = spec.cwd or options["env"].get("KERNEL_WORKING_DIR", "")
    if working_dir and os.path.isdir(working_dir):
        options["cwd"] = working_dir
    return options


async def start_process(
    host: MappingKernelManager, spec: LaunchSpec, options: dict[str, Any]
) -> ManagedKernel:
    """Start a kernel's process through its provisioner (jupyter_client's own start_kernel,
    which the gateway's manager overrides); register it as STARTING."""
    kernel_id, launched_at = host.new_kernel_id(), time.monotonic()
    try:
        await AsyncMultiKernelManager.start_kernel(
            host, kernel_name=spec.kernel_name, kernel_id=kernel_id, **options
        )
    except BaseException as err:
        where = on_host(host.launching.get(kernel_id))
        forget_failed_launch(host, kernel_id)
        if isinstance(err, (OSError, RuntimeError, ValueError)):
            message = f"Kernel {spec.kernel_name!r} failed to start{where}: {err}"
            host.log.error("%s (kernel %s)", message, kernel_id)
            raise KernelStartFailed(message) from err
        raise
    finally:
        host.launching.pop(kernel_id, None)
    km = cast(GatewayKernelManager, host.get_kernel(kernel_id))
    kernel = ManagedKernel(kernel_id, spec, km, host.events, launched_at)
    host.registry.add(kernel)
    host.readiness.watch(kernel)
    return kernel


async def launch(
    host: MappingKernelManager, spec: LaunchSpec, wait_ready: bool = True
) -> ManagedKernel:
    """Launch a kernel through its provisioner, connect to it and seed it (not handed out).

    A kernel that is not restarted on death gets one more launch if it dies before it
    answers (say its ports were taken meanwhile: a new launch picks new ones; the others
    get that from jupyter_client's restarter). Raises KernelStartFailed when the launch
    fails, or the kernel dies or never answers; CellError when a seed cell fails.
    """
    name, encryption = spec.kernel_name, host.transport_encryption
    check_supported(encryption, name, host.spec_manager.get_kernel_spec(name).metadata)
    options = launch_options(host.policy, spec)
    options["transport_encryption"] = encryption
    attempts = 1 if spec.restart_on_death else LAUNCHES_OF_A_KERNEL_NOT_RESTARTED
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        kernel = await start_process(host, spec, options)
        try:
            check_provisioned(encryption, name, kernel.km.get_connection_info())
            await host.readiness.make_ready(kernel, wait_ready)
            log_started(host, kernel, started)
            return kernel
        except KernelUnavailable as err:  # its connection closed: it died while starting
            await discard_if_known(host, kernel)
            if attempt == attempts:
                raise KernelStartFailed(f"Kernel {name!r} died while starting") from err
            host.log.warning("Kernel %s died while starting; launching another", kernel.id)
        except BaseException as err:
            if isinstance(err, CellError):  # the cause first, then the shutdown it causes
                host.log.error("Kernel %s %s: a seed cell failed: %s", name, kernel.id, err)
            await discard_if_known(host, kernel)
            if isinstance(err, TimeoutError):
                raise KernelStartFailed(f"Kernel {spec.kernel_name!r} started but {err}") from err
            raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def log_started(host: MappingKernelManager, kernel: ManagedKernel, started: float) -> None:
    """One INFO line per kernel: its name, id, start time, seeding and transport."""
    seeds = len(kernel.seed_cells)
    host.log.info(
        "Kernel %s %s started in %.0f ms%s; %s",
        kernel.spec.kernel_name,
        kernel.id,
        1000 * (time.monotonic() - started),
        f" and seeded ({seeds} cell{'s' if seeds != 1 else ''})" if seeds else "",
        describe_transport(kernel.connection.encrypted, host.transport_encryption),
    )


async def settle(km: GatewayKernelManager, timeout: float) -> None:
    """Let a start or restart under way finish (or fail) before shutting the kernel down.

    A restart replaces `km.ready` twice (once to stop, once to start) in jupyter_client
    8.10.0, so wait until the current one is done; no new restart begins once the restarter
    is stopped.
    """
    km.stop_restarter()
    deadline = time.monotonic() + timeout
    while not km.ready.done() and time.monotonic() < deadline:
        ready = cast("asyncio.Future[None]", km.ready)  # an asyncio future in a running loop
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(ready), deadline - time.monotonic())


@contextlib.contextmanager
def start_up(what: str) -> Iterator[None]:
    """Turn a kernel start that failed at the gateway's start-up into a StartupError naming
    `what` (or the seed cell that failed): the one translation, for every mode."""
    try:
        yield
    except CellError as err:
        raise StartupError(f"A seed cell failed: {err}") from err
    except (GatewayError, TimeoutError, OSError, RuntimeError) as err:
        raise StartupError(f"{what} failed to start: {err}") from err


def forget_failed_launch(manager: AsyncMultiKernelManager, kernel_id: str) -> None:
    """jupyter_client (8.10.0) keeps the entries of a launch that failed, with no public way
    to drop the pending one: drop them."""
    manager._pending_kernels.pop(kernel_id, None)
    failed = manager.remove_kernel(kernel_id)
    if failed is not None:
        with contextlib.suppress(Exception):
            failed.cleanup_resources()


async def discard_if_known(host: MappingKernelManager, kernel: ManagedKernel) -> None:
    """Discard a kernel that failed to start, unless its death already removed it."""
    with contextlib.suppress(UnknownKernel):
        await host.discard(kernel.id, Reason.FAILED, now=True)
