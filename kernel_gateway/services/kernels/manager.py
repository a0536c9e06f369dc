"""The gateway's kernel manager, built on jupyter_client's AsyncMultiKernelManager.

Kernels are launched through jupyter_client's provisioner interface (a remote provisioner plugs
in through the kernel spec). On top of that this module adds what a gateway needs: kernel name
rules, the environment policy, the max_kernels limit, seeding, one shared `KernelConnection`
per kernel, Jupyter-server-style kernel models, and restart and death announcements. The
warm pool (warm_pool.py) and the culling of idle kernels (culling.py) work through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, cast

from jupyter_client.ioloop import AsyncIOLoopKernelManager, AsyncIOLoopKernelRestarter
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.multikernelmanager import AsyncMultiKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Bool, CaselessStrEnum, Integer, default

from ...errors import (
    CellError,
    KernelLimitReached,
    KernelStartFailed,
    KernelUnavailable,
    UnknownKernel,
    UnknownKernelSpec,
)
from .connection import KernelConnection
from .culling import IdleCuller
from .encryption import POLICIES, check_provisioned, check_supported, describe_transport
from .execution import execute
from .failures import cell_failure
from .messages import iso_time, status_message
from .policy import KernelPolicy, check_env, client_env, kernel_env
from .warm_pool import WarmPool

__all__ = ["KernelPolicy", "MappingKernelManager", "client_env"]

KERNEL_READY_TIMEOUT = 60.0
LAUNCHES_OF_A_KERNEL_NOT_RESTARTED = 2
SHUTDOWN_POLL_INTERVAL = 0.01
KERNEL_NAME = re.compile(r"[a-z0-9._-]+", re.IGNORECASE)  # what jupyter_client allows


class QuickKernelRestarter(AsyncIOLoopKernelRestarter):
    """Checks a kernel's process every half second (jupyter_client's default is 3 s), so a
    request on a kernel that died learns it at once instead of waiting for the next check."""

    @default("time_to_dead")
    def _time_to_dead_default(self) -> float:
        return 0.5


class GatewayKernelManager(AsyncIOLoopKernelManager):
    """One kernel's manager; tells the gateway each time its process (re)starts."""

    on_started: Callable[[], None] | None = None

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
        DELETE, restart and the gateway's own shutdown all wait for it."""
        await super()._async_finish_shutdown(waittime, SHUTDOWN_POLL_INTERVAL, restart)


class MappingKernelManager(AsyncMultiKernelManager):
    """Kernels by id, with the gateway's naming, env, limit, seeding and culling rules.

    Named like jupyter_server's manager so `--MappingKernelManager.cull_idle_timeout=...`
    keeps working.
    """

    cull_idle_timeout = Integer(
        0,
        min=0,
        help="Shut kernels down after this many idle seconds; 0 disables culling "
        "(KG_CULL_IDLE_TIMEOUT env var)",
    ).tag(config=True, env="KG_CULL_IDLE_TIMEOUT")
    cull_interval = Integer(
        300, min=1, help="Seconds between checks for idle kernels (KG_CULL_INTERVAL env var)"
    ).tag(config=True, env="KG_CULL_INTERVAL")
    cull_connected = Bool(
        False, help="Cull idle kernels that still have clients (KG_CULL_CONNECTED env var)"
    ).tag(config=True, env="KG_CULL_CONNECTED")
    cull_busy = Bool(False, help="Cull kernels that are busy (KG_CULL_BUSY env var)").tag(
        config=True, env="KG_CULL_BUSY"
    )

    transport_encryption = CaselessStrEnum(
        POLICIES,
        "auto",
        help="CurveZMQ on the gateway's ZeroMQ connections to its kernels: 'auto' encrypts "
        "where the kernelspec declares supported_encryption ['curve'], 'required' refuses "
        "kernels that can't, 'disabled' never encrypts (KG_TRANSPORT_ENCRYPTION env var)",
    ).tag(config=True, env="KG_TRANSPORT_ENCRYPTION")

    @default("connection_dir")
    def _connection_dir_default(self) -> str:
        return jupyter_runtime_dir()

    def __init__(self, policy: KernelPolicy | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", f"{__name__}.GatewayKernelManager")
        super().__init__(**kwargs)
        os.makedirs(self.connection_dir, mode=0o700, exist_ok=True)
        self.policy = policy or KernelPolicy()
        self.connections: dict[str, KernelConnection] = {}
        self.death_listeners: list[Callable[[str], None]] = []
        self.removal_listeners: list[Callable[[str], None]] = []  # shut down, culled or dead
        # (kernel_id, True) when a handed-out kernel can't take client messages yet (started
        # in the background, or restarting), (kernel_id, False) once it is ready and seeded
        # (or that failed): the websocket mode holds client messages in between
        self.readying_listeners: list[Callable[[str, bool], None]] = []
        self._handed_out: set[str] = set()
        self._starting = 0
        self._culler: IdleCuller | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        # kernels on their way to ready and seeded (started, or restarting): interrupts wait
        # for these, and an automatic restart meanwhile leaves the seeding to them
        self._readying: dict[str, asyncio.Future[None]] = {}
        self.warm_pool: WarmPool | None = None

    # -- starting ----------------------------------------------------------------------------

    @property
    def spec_manager(self) -> KernelSpecManager:
        """The kernel spec manager (the app always gives one)."""
        if self.kernel_spec_manager is None:
            raise RuntimeError("MappingKernelManager needs a kernel_spec_manager")
        return self.kernel_spec_manager

    def resolve_kernel_name(self, requested: str | None) -> str:
        """The kernel name to start: forced, requested, default, or the spec manager's."""
        name = (
            self.policy.force_kernel_name
            or requested
            or self.policy.default_kernel_name
            or self.default_kernel_name
        )
        if not KERNEL_NAME.fullmatch(name):  # no spec has it: don't look it up (or log it)
            raise UnknownKernelSpec(name)
        try:
            self.spec_manager.get_kernel_spec(name)
        except NoSuchKernel as err:
            raise UnknownKernelSpec(name) from err
        return name

    async def start_kernel(  # type: ignore[override]
        self,
        kernel_name: str | None = None,
        env: Mapping[str, str] | None = None,
        restart_on_death: bool = True,
        wait_ready: bool = True,
    ) -> str:
        """Start (or take from the warm pool), connect to and seed a kernel; return its id.

        With `wait_ready` False and no seed cells, return as soon as the process is launched
        (as Jupyter servers do) and make it ready in the background, between the readying
        listeners' True and False. Raises BadRequest (an env no process can have),
        UnknownKernelSpec, KernelLimitReached, KernelStartFailed or CellError (a seed cell
        failed).
        """
        name = self.resolve_kernel_name(kernel_name)
        check_env(env or {})
        limit = self.policy.max_kernels
        if limit is not None and len(self.kernel_ids()) + self._starting >= limit:
            raise KernelLimitReached(f"A max kernels limit of {limit} has been reached")
        kernel_id = None
        if self.warm_pool is not None:
            kernel_id = await self.warm_pool.take(name, env or {})
        if kernel_id is None:
            self._starting += 1  # counted against the limit until handed out or given up
            try:
                kernel_id = await self.launch(name, env or {}, restart_on_death, wait_ready)
            finally:
                self._starting -= 1
        self._handed_out.add(kernel_id)
        return kernel_id

    async def launch(
        self,
        name: str,
        env: Mapping[str, str],
        restart_on_death: bool,
        wait_ready: bool = True,
    ) -> str:
        """Launch a kernel through its provisioner, connect to it and seed it (not handed out:
        `start_kernel` and the warm pool call this).

        A kernel that is not restarted on death gets one more launch if it dies before it
        answers (say its ports were taken meanwhile: a new launch picks new ones; the others
        get that from jupyter_client's restarter). Raises KernelStartFailed when the launch
        fails, or the kernel dies or never answers.
        """
        policy = self.transport_encryption
        check_supported(policy, name, self.spec_manager.get_kernel_spec(name).metadata)
        options: dict[str, Any] = {"env": kernel_env(self.policy, env)}
        options["transport_encryption"] = policy
        working_dir = options["env"].get("KERNEL_WORKING_DIR", "")
        if working_dir and os.path.isdir(working_dir):  # noqa: ASYNC240 (one stat, no I/O wait)
            options["cwd"] = working_dir
        attempts = 1 if restart_on_death else LAUNCHES_OF_A_KERNEL_NOT_RESTARTED
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            kernel_id = await self._launch_process(name, options)
            try:
                check_provisioned(policy, name, self.get_kernel(kernel_id).get_connection_info())
                await self._attach(kernel_id, restart_on_death, wait_ready)
                self._log_started(name, kernel_id, started)
                return kernel_id
            except KernelUnavailable as err:  # its connection closed: it died while starting
                await self._discard_if_known(kernel_id)
                if attempt == attempts:
                    raise KernelStartFailed(f"Kernel {name!r} died while starting") from err
                self.log.warning("Kernel %s died while starting; launching another", kernel_id)
            except BaseException as err:
                if isinstance(err, CellError):  # the cause first, then the shutdown it causes
                    self.log.error("Kernel %s %s: a seed cell failed: %s", name, kernel_id, err)
                await self._discard_if_known(kernel_id)
                if isinstance(err, TimeoutError):
                    raise KernelStartFailed(f"Kernel {name!r} started but {err}") from err
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _log_started(self, name: str, kernel_id: str, started: float) -> None:
        """One INFO line per kernel: its name, id, start time, seeding and transport."""
        connection = self.connections.get(kernel_id)
        encrypted = connection is not None and connection.encrypted
        seeds = len(self.policy.seed_cells)
        self.log.info(
            "Kernel %s %s started in %.0f ms%s; %s",
            name,
            kernel_id,
            1000 * (time.monotonic() - started),
            f" and seeded ({seeds} cell{'s' if seeds != 1 else ''})" if seeds else "",
            describe_transport(encrypted, self.transport_encryption),
        )

    async def _launch_process(self, name: str, options: dict[str, Any]) -> str:
        """Start a kernel's process through its provisioner; return the new kernel's id."""
        kernel_id = self.new_kernel_id()
        try:
            await super().start_kernel(kernel_name=name, kernel_id=kernel_id, **options)
        except BaseException as err:
            self._forget_failed_launch(kernel_id)
            if isinstance(err, (OSError, RuntimeError, ValueError)):
                raise KernelStartFailed(f"Kernel {name!r} failed to start: {err}") from err
            raise
        return str(kernel_id)

    async def _discard_if_known(self, kernel_id: str) -> None:
        """Discard a kernel that failed to start, unless its death already removed it."""
        with contextlib.suppress(UnknownKernel):
            await self.discard(kernel_id, now=True)

    def _forget_failed_launch(self, kernel_id: str) -> None:
        """jupyter_client keeps the entries of a launch that failed: drop them."""
        self._pending_kernels.pop(kernel_id, None)
        failed = self._kernels.pop(kernel_id, None)
        if failed is not None:
            with contextlib.suppress(Exception):
                failed.cleanup_resources()

    # -- warm pool ---------------------------------------------------------------------------

    async def start_warm_pool(self, size: int) -> None:
        """Keep `size` kernels of the default kind started and seeded; fill it before returning."""
        if size > 0:
            self.warm_pool = WarmPool(self, size, self.resolve_kernel_name(None))
            await self.warm_pool.fill()

    def kernel_ids(self) -> list[str]:
        """Ids of the kernels handed out (not those warming up or waiting in the warm pool)."""
        return [kernel_id for kernel_id in self.connections if kernel_id in self._handed_out]

    async def _attach(self, kernel_id: str, restart_on_death: bool, wait_ready: bool) -> None:
        km = cast(GatewayKernelManager, self.get_kernel(kernel_id))
        connection = KernelConnection(kernel_id, km)
        connection.open()
        self.connections[kernel_id] = connection
        km.on_started = lambda: self._reopen(kernel_id, connection)
        if not restart_on_death and km._restarter is not None:
            km._restarter.restart_limit = 0
        km.add_restart_callback(lambda: self._on_auto_restart(kernel_id), "restart")
        km.add_restart_callback(lambda: self._on_death(kernel_id), "dead")
        if wait_ready or self.policy.seed_cells:
            with self._readying_under_way(kernel_id):
                await self._make_ready(connection)
            return
        self._tell_readying(kernel_id, True)
        readying = self.run_in_background(
            self._ready_in_background(kernel_id, connection), kernel_id
        )
        self._readying[kernel_id] = readying  # at once: an interrupt right after waits for it
        readying.add_done_callback(lambda _: self._readying.pop(kernel_id, None))

    @contextlib.contextmanager
    def _readying_under_way(self, kernel_id: str) -> Iterator[None]:
        """Mark a kernel as on its way to ready and seeded for the block (if not already)."""
        if kernel_id in self._readying:
            yield
            return
        under_way: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._readying[kernel_id] = under_way
        try:
            yield
        finally:
            if self._readying.get(kernel_id) is under_way:
                del self._readying[kernel_id]
            under_way.set_result(None)

    def _tell_readying(self, kernel_id: str, readying: bool) -> None:
        """Tell the readying listeners that a kernel can't take client messages yet (True),
        or can again (False)."""
        for listener in list(self.readying_listeners):
            listener(kernel_id, readying)

    async def _ready_in_background(self, kernel_id: str, connection: KernelConnection) -> None:
        """Wait for a kernel handed out at launch to answer; shut it down if it never does."""
        try:
            await self._make_ready(connection)
        except (KernelUnavailable, TimeoutError) as err:
            if self.connections.get(kernel_id) is connection:
                self.log.error(
                    "Kernel %s never became ready (%s); shutting it down", kernel_id, err
                )
                await self.discard(kernel_id, now=True)
            return
        if self.connections.get(kernel_id) is connection:
            self._tell_readying(kernel_id, False)

    def _reopen(self, kernel_id: str, connection: KernelConnection) -> None:
        """Reconnect after a restart, unless the kernel was shut down meanwhile."""
        if self.connections.get(kernel_id) is connection:
            connection.open()

    async def _make_ready(self, connection: KernelConnection) -> None:
        """Wait for the kernel to answer, then run the seed cells on it."""
        await connection.wait_ready(KERNEL_READY_TIMEOUT)
        if not self.policy.seed_cells:
            return
        seeds = self.policy.seed_cells
        for index, result in enumerate(await execute(connection, seeds)):
            if result.error:
                raise cell_failure(result.error, self.policy.seed_position(index), seeds[index])

    # -- life events -------------------------------------------------------------------------

    def _announce(self, kernel_id: str, execution_state: str) -> None:
        connection = self.connections.get(kernel_id)
        if connection is not None:
            connection.execution_state = execution_state
            connection.broadcast(status_message(execution_state, connection.session_id))

    def _begin_restart(self, kernel_id: str, automatic: bool) -> None:
        """Tell the restart listeners; clients hear "restarting" only when the kernel died
        (as from Jupyter servers: JupyterLab takes that status for a crash)."""
        connection = self.connections.get(kernel_id)
        if connection is not None:
            connection.execution_state = "restarting"
        if automatic:
            self._announce(kernel_id, "restarting")
        self._tell_readying(kernel_id, True)

    def _end_restart(self, kernel_id: str, connection: KernelConnection, automatic: bool) -> None:
        """The restart is over (ready and seeded, or failed): tell the listeners, and after an
        automatic restart the clients ("idle"), unless the kernel was removed meanwhile."""
        if self.connections.get(kernel_id) is not connection:
            return
        connection.execution_state = "idle"  # for the model; the kernel's own statuses follow
        if automatic:
            self._announce(kernel_id, "idle")
        self._tell_readying(kernel_id, False)

    def _on_auto_restart(self, kernel_id: str) -> None:
        if kernel_id in self._readying:  # that readying goes on with the new process
            self.log.warning("Kernel %s died before it was ready; restarting it", kernel_id)
            return
        self.log.warning("Kernel %s died; restarting it", kernel_id)
        connection = self.connections[kernel_id]
        self._begin_restart(kernel_id, automatic=True)
        self.run_in_background(self._reseed(kernel_id, connection, automatic=True), kernel_id)

    async def _reseed(self, kernel_id: str, connection: KernelConnection, automatic: bool) -> None:
        """Make a restarted kernel ready and seeded again, then end its restart.

        Websocket clients' messages are held until then, so they reach the new kernel after
        its seed cells; a failure ends the restart too, then is raised (unless the kernel was
        removed meanwhile).
        """
        try:
            with self._readying_under_way(kernel_id):
                await self._make_ready(connection)
        except (KernelUnavailable, TimeoutError):
            if self.connections.get(kernel_id) is not connection:
                return
            raise
        finally:
            self._end_restart(kernel_id, connection, automatic)

    def run_in_background(
        self, work: Coroutine[Any, Any, None], kernel_id: str
    ) -> asyncio.Future[None]:
        """Run `work` on its own, keeping a reference and logging how it failed."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)

        def finished(done: asyncio.Future[None]) -> None:
            self._tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                self.log.error("Upkeep of kernel %s failed: %s", kernel_id, done.exception())

        task.add_done_callback(finished)
        return task

    def _on_death(self, kernel_id: str) -> None:
        self.log.warning("Kernel %s died", kernel_id)
        self._announce(kernel_id, "dead")
        for listener in list(self.death_listeners):
            listener(kernel_id)
        self.run_in_background(self.discard(kernel_id, now=True), kernel_id)

    # -- operations by id --------------------------------------------------------------------

    def connection(self, kernel_id: str) -> KernelConnection:
        """The shared connection to a kernel; raises UnknownKernel."""
        connection = self.connections.get(kernel_id)
        if connection is None or kernel_id not in self._handed_out:
            raise UnknownKernel(kernel_id)
        return connection

    async def shutdown_kernel(  # type: ignore[override]
        self, kernel_id: str, now: bool = False, restart: bool = False
    ) -> None:
        """Shut a handed-out kernel down and forget it; raises UnknownKernel for any other id."""
        if kernel_id not in self._handed_out:
            raise UnknownKernel(kernel_id)
        await self.discard(kernel_id, now=now, restart=restart)

    async def discard(self, kernel_id: str, now: bool = False, restart: bool = False) -> None:
        """Shut any kernel down (handed out, warm or half started) and forget it."""
        if self.warm_pool is not None:
            self.warm_pool.forget(kernel_id)
        connection = self.connections.pop(kernel_id, None)
        self._handed_out.discard(kernel_id)
        if connection is not None:
            for listener in list(self.removal_listeners):
                listener(kernel_id)
        if connection is None and kernel_id not in self._kernels:
            raise UnknownKernel(kernel_id)
        if connection is not None:
            connection.close()
        km = cast("GatewayKernelManager | None", self._kernels.get(kernel_id))
        if km is not None:
            await self._settle(km)
            await super().shutdown_kernel(kernel_id, now=now, restart=restart)

    @staticmethod
    async def _settle(km: GatewayKernelManager) -> None:
        """Let a start or restart under way finish (or fail) before shutting the kernel down.

        A restart replaces `km.ready` twice (once to stop, once to start), so wait until the
        current one is done; no new restart begins once the restarter is stopped.
        """
        km.stop_restarter()
        deadline = time.monotonic() + KERNEL_READY_TIMEOUT
        while not km.ready.done() and time.monotonic() < deadline:
            ready = cast("asyncio.Future[None]", km.ready)  # an asyncio future in a running loop
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(ready), deadline - time.monotonic())

    async def restart_kernel(self, kernel_id: str, now: bool = False) -> None:  # type: ignore[override]
        """Restart a kernel in place (same id) and seed it again.

        Clients get no "restarting" status for a restart they asked for, as from Jupyter
        servers; the restart listeners hear of it.
        """
        connection = self.connection(kernel_id)
        with self._readying_under_way(kernel_id):
            self._begin_restart(kernel_id, automatic=False)
            try:
                await super().restart_kernel(kernel_id, now=now)
            except BaseException:
                self._end_restart(kernel_id, connection, automatic=False)
                raise
            await self._reseed(kernel_id, connection, automatic=False)

    async def interrupt_kernel(self, kernel_id: str) -> None:  # type: ignore[override]
        """Interrupt what a kernel is running; raises UnknownKernel.

        A kernel still starting or restarting is left to finish first: SIGINT during its
        start-up would kill it (and it runs nothing yet).
        """
        self.connection(kernel_id)
        readying = self._readying.get(kernel_id)
        if readying is not None:
            await asyncio.wait([readying], timeout=KERNEL_READY_TIMEOUT)
            return
        km = cast(GatewayKernelManager, self.get_kernel(kernel_id))
        await km.interrupt_kernel()

    def kernel_model(self, kernel_id: str) -> dict[str, Any]:
        """The kernel's model as Jupyter servers report it; raises UnknownKernel."""
        connection = self.connection(kernel_id)
        return {
            "id": kernel_id,
            "name": self.get_kernel(kernel_id).kernel_name,
            "last_activity": iso_time(connection.last_activity),
            "execution_state": connection.execution_state,
            "connections": connection.clients,
        }

    def kernel_models(self) -> list[dict[str, Any]]:
        """Models of every running kernel."""
        return [self.kernel_model(kernel_id) for kernel_id in self.kernel_ids()]

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        """Shut every kernel down (at gateway exit)."""
        self.stop_culling()
        self.warm_pool = None
        if self._tasks:  # let upkeep under way (refills, removals) finish: cancelling leaks
            await asyncio.wait(list(self._tasks), timeout=KERNEL_READY_TIMEOUT)
        await asyncio.gather(
            *(self.discard(kernel_id, now=now) for kernel_id in list(self.connections)),
            return_exceptions=True,
        )
        await super().shutdown_all(now=now)  # type: ignore[misc]  # async in this class

    # -- culling -----------------------------------------------------------------------------

    def start_culling(self, exempt: Callable[[str], bool] = lambda kernel_id: False) -> None:
        """Check for idle kernels every cull_interval seconds, if culling is on."""
        if self.cull_idle_timeout > 0:
            self._culler = IdleCuller(self, exempt)
            self._culler.start()

    def stop_culling(self) -> None:
        if self._culler is not None:
            self._culler.stop()
            self._culler = None
