"""The gateway's kernel manager, built on jupyter_client's AsyncMultiKernelManager.

Kernels are launched through jupyter_client's provisioner interface (a remote provisioner plugs
in through the kernel spec). Each is a `ManagedKernel` (kernel.py) in the manager's registry,
whose changes of state are announced on `events`. The other concerns live beside this module:
launch.py (what to start, launching with retry), readiness.py (answering, seeding, restarts,
death), registry.py, the pools (pool.py, warm_pool.py) and culling.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from typing import Any, cast

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyter_client.multikernelmanager import AsyncMultiKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Bool, CaselessStrEnum, Integer, default

from ...errors import KernelLimitReached, UnknownKernel
from .connection import KernelConnection
from .culling import IdleCuller, KernelFilter
from .encryption import POLICIES
from .events import KernelEvents, KernelState, Reason
from .kernel import ManagedKernel
from .launch import KERNEL_READY_TIMEOUT, GatewayKernelManager, LaunchSpec, launch, settle
from .policy import (
    KernelPolicy,
    check_env,
    chosen_kernel_name,
    client_env,
    existing_kernel_name,
)
from .readiness import Readiness
from .registry import KernelRegistry
from .tasks import BackgroundTasks
from .warm_pool import WarmPool

__all__ = ["KernelPolicy", "LaunchSpec", "ManagedKernel", "MappingKernelManager", "client_env"]


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
        kwargs.setdefault(
            "kernel_manager_class", f"{GatewayKernelManager.__module__}.GatewayKernelManager"
        )
        super().__init__(**kwargs)
        os.makedirs(self.connection_dir, mode=0o700, exist_ok=True)
        self.policy = policy or KernelPolicy()
        self.events = KernelEvents()
        self.registry = KernelRegistry()
        self.tasks = BackgroundTasks("kernel manager")
        self.readiness = Readiness(self.tasks, self.discard, self.log)
        self.warm_pool: WarmPool | None = None
        self.launching: dict[str, KernelManager] = {}  # a failed launch names its host
        self._starting = 0  # launches that will be handed out, counted against max_kernels
        self._culler: IdleCuller | None = None

    @property
    def spec_manager(self) -> KernelSpecManager:
        """The kernel spec manager (the app always gives one)."""
        if self.kernel_spec_manager is None:
            raise RuntimeError("MappingKernelManager needs a kernel_spec_manager")
        return self.kernel_spec_manager

    def pre_start_kernel(
        self, kernel_name: str | None, kwargs: Any
    ) -> tuple[KernelManager, str, str]:
        """jupyter_client's, remembering the new kernel's manager while it launches (a failed
        launch names its host)."""
        km, name, kernel_id = super().pre_start_kernel(kernel_name, kwargs)
        self.launching[kernel_id] = km
        return km, name, kernel_id

    def resolve_kernel_name(self, requested: str | None) -> str:
        """The kernel name to start; UnknownKernelSpec if no spec has it."""
        name = chosen_kernel_name(self.policy, requested, self.default_kernel_name)
        return existing_kernel_name(self.spec_manager, name)

    def launch_spec(
        self,
        kernel_name: str | None = None,
        env: Mapping[str, str] | None = None,
        restart_on_death: bool = True,
        seed_cells: tuple[str, ...] | None = None,
        cwd: str | None = None,
        seed_positions: tuple[int, ...] = (),
    ) -> LaunchSpec:
        """A LaunchSpec by the manager's rules: the name resolved, the env checked, the
        policy's seed cells unless `seed_cells` (at `seed_positions` in their notebook) says
        otherwise. Raises BadRequest or UnknownKernelSpec."""
        check_env(env or {})
        if seed_cells is None:
            seed_cells, seed_positions = self.policy.seed_cells, self.policy.seed_positions
        name = self.resolve_kernel_name(kernel_name)
        return LaunchSpec(
            name, dict(env or {}), tuple(seed_cells), cwd, restart_on_death, seed_positions
        )

    async def start_kernel(  # type: ignore[override]
        self,
        kernel_name: str | None = None,
        env: Mapping[str, str] | None = None,
        restart_on_death: bool = True,
        wait_ready: bool = True,
    ) -> str:
        """Start (or take from the warm pool), connect to and seed a kernel; return its id.

        With `wait_ready` False and no seed cells, return once the process is launched (as
        Jupyter servers do), READY later. Raises BadRequest, UnknownKernelSpec,
        KernelLimitReached, KernelStartFailed or CellError (a seed cell failed).
        """
        spec = self.launch_spec(kernel_name, env, restart_on_death)
        kernel = await self.start(spec, wait_ready, take_warm=True)
        return kernel.id

    async def start(
        self, spec: LaunchSpec, wait_ready: bool = True, take_warm: bool = False
    ) -> ManagedKernel:
        """Start a kernel of `spec` and hand it out (it counts against max_kernels)."""
        limit = self.policy.max_kernels
        if limit is not None and self.kernel_count() + self._starting >= limit:
            raise KernelLimitReached(f"A max kernels limit of {limit} has been reached")
        kernel = None
        if take_warm and self.warm_pool is not None:
            kernel = await self.warm_pool.take(spec.kernel_name, spec.env)
        if kernel is None:
            self._starting += 1  # counted against the limit until handed out or given up
            try:
                kernel = await self.launch(spec, wait_ready)
            finally:
                self._starting -= 1
        kernel.handed_out = True
        return kernel

    async def launch(self, spec: LaunchSpec, wait_ready: bool = True) -> ManagedKernel:
        """Launch, connect and seed a kernel, not handed out (the warm pool's way)."""
        return await launch(self, spec, wait_ready)

    async def start_warm_pool(self, size: int) -> None:
        """Keep `size` kernels of the default kind started and seeded; fill it before returning."""
        if size > 0:
            self.warm_pool = WarmPool(self, size, self.launch_spec())
            await self.warm_pool.start()

    def get(self, kernel_id: str) -> ManagedKernel:
        """A handed-out kernel; raises UnknownKernel for any other id."""
        return self.registry.get(kernel_id)

    def kernels(self) -> list[ManagedKernel]:
        """The kernels handed out (not those warming up or waiting in the warm pool)."""
        return self.registry.handed_out()

    def kernel_count(self) -> int:
        """How many kernels count against max_kernels (those handed out)."""
        return self.registry.count_handed_out()

    def kernel_ids(self) -> list[str]:
        """Ids of the kernels handed out (`list_kernel_ids` also lists warm ones)."""
        return [kernel.id for kernel in self.kernels()]

    def connection(self, kernel_id: str) -> KernelConnection:
        """The shared connection to a handed-out kernel; raises UnknownKernel."""
        return self.get(kernel_id).connection

    def kernel_model(self, kernel_id: str) -> dict[str, Any]:
        """The kernel's model as Jupyter servers report it; raises UnknownKernel."""
        return self.get(kernel_id).model()

    def kernel_models(self) -> list[dict[str, Any]]:
        """Models of every running kernel."""
        return [kernel.model() for kernel in self.kernels()]

    async def shutdown_kernel(  # type: ignore[override]
        self,
        kernel_id: str,
        now: bool = False,
        restart: bool = False,
        reason: Reason = Reason.SHUTDOWN,
    ) -> None:
        """Shut a handed-out kernel down and forget it; raises UnknownKernel for any other id."""
        self.get(kernel_id)
        await self.discard(kernel_id, reason, now=now, restart=restart)

    async def discard(
        self,
        kernel_id: str,
        reason: Reason = Reason.SHUTDOWN,
        now: bool = False,
        restart: bool = False,
    ) -> None:
        """Shut any kernel down (handed out, warm or half started) and forget it.

        It is GONE at once (every listener hears it before its process is asked to stop).
        A kernel that is not READY (still starting, restarting or dead) has nothing to save:
        it is killed without the interrupt and the shutdown request it couldn't answer.
        """
        kernel = self.registry.remove(kernel_id)
        known = kernel_id in self.list_kernel_ids()
        if kernel is None and not known:
            raise UnknownKernel(kernel_id)
        answering = kernel is not None and kernel.state is KernelState.READY
        if kernel is not None:
            kernel.transition(KernelState.GONE, reason)
            kernel.connection.close()
        if known:
            km = cast(GatewayKernelManager, self.get_kernel(kernel_id))
            if not answering:
                km.interrupt_before_shutdown, now = False, True
            await settle(km, KERNEL_READY_TIMEOUT)
            await super().shutdown_kernel(kernel_id, now=now, restart=restart)

    async def restart_kernel(self, kernel_id: str, now: bool = False) -> None:  # type: ignore[override]
        """Restart a kernel in place (same id) and seed it again.

        Clients get no "restarting" status for a restart they asked for, as from Jupyter
        servers; the event listeners hear of it.
        """
        kernel = self.get(kernel_id)
        kernel.transition(KernelState.RESTARTING, Reason.MANUAL)
        try:
            await super().restart_kernel(kernel_id, now=now)
        except BaseException:
            if kernel.state is KernelState.RESTARTING:
                kernel.transition(KernelState.READY, Reason.MANUAL)
            raise
        await self.readiness.reseed(kernel, Reason.MANUAL)

    async def interrupt_kernel(self, kernel_id: str) -> None:  # type: ignore[override]
        """Interrupt what a kernel is running; raises UnknownKernel.

        A kernel still starting or restarting is left to finish first: SIGINT during its
        start-up would kill it (and it runs nothing yet).
        """
        kernel = self.get(kernel_id)
        if kernel.is_settling:
            with contextlib.suppress(TimeoutError):
                await kernel.settled(KERNEL_READY_TIMEOUT)
            return
        await kernel.km.interrupt_kernel()

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        """Shut every kernel down (at gateway exit)."""
        self.stop_culling()
        warm_pool, self.warm_pool = self.warm_pool, None
        if warm_pool is not None:
            await warm_pool.stop()
        await self.tasks.wait(KERNEL_READY_TIMEOUT)  # upkeep under way: cancelling leaks
        await asyncio.gather(
            *(self.discard(kernel.id, now=now) for kernel in self.registry),
            return_exceptions=True,
        )
        await super().shutdown_all(now=now)  # type: ignore[misc]  # async in this class

    def start_culling(self, exempt: KernelFilter = lambda kernel_id: False) -> None:
        """Check for idle kernels every cull_interval seconds, if culling is on."""
        if self.cull_idle_timeout > 0:
            self._culler = IdleCuller(self, exempt)
            self._culler.start()

    def stop_culling(self) -> None:
        if self._culler is not None:
            self._culler.stop()
            self._culler = None
