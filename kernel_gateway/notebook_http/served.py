"""ServedServer: the web server a served app's kernel runs, found, awaited and supervised.

A served app's notebook (`metadata.kernel_gateway.serve`) starts a web server in its seed
cells, on the port or unix socket the gateway picked and passed in the kernel's env. The app
(app.py) makes one `ServedServer` per pool it starts: the server's address, the wait until it
answers, then a health probe every few seconds. A server that stops answering gets its kernel
restarted and re-seeded (which starts the server again); a kernel that dies is restarted by
jupyter_client and re-seeded, and the server awaited again. Each restart is counted with its
reason in the app's model. After MAX_FAILED_RESTARTS restarts in a row whose server never
answered, the app gives up (it is marked failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import GatewayError, KernelUnavailable, StartupError
from ..services.kernels.events import KernelEvent, KernelState, Reason
from ..services.kernels.kernel import ManagedKernel
from ..services.kernels.manager import MappingKernelManager
from ..services.kernels.messages import iso_time
from ..services.kernels.pool import KernelPool
from ..services.proxy import Upstream, answers
from ..services.proxy.upstream import kernel_host
from .apps.settings import ServeSpec

PROBE_INTERVAL = 2.0  # seconds between health probes of a server that answers
PROBE_TIMEOUT = 5.0  # seconds a probe waits for a status line
PROBE_FAILURES = 2  # probes in a row without an answer before the kernel is restarted
MAX_FAILED_RESTARTS = 3  # restarts in a row whose server never answered, then give up
WAIT_STEP = 0.05  # seconds between probes while waiting for a server to come up
DEFAULT_START_TIMEOUT = 60.0  # seconds, when app_start_timeout is 0
SOCKET_NAME = "server.sock"
DIED = "the kernel died"
SILENT = "the server stopped answering"
NOT_BACK = "the server did not answer after a restart"
log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of `host` that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServeAddress:
    """Where one pool's server listens: a free port, or a socket in a private folder (0700)
    that `remove` deletes with whatever is in it."""

    def __init__(self, spec: ServeSpec) -> None:
        self.port = free_port() if spec.transport == "port" else 0
        self.folder = tempfile.mkdtemp(prefix="kg-serve-") if spec.transport == "socket" else ""

    @property
    def socket_path(self) -> str:
        return os.path.join(self.folder, SOCKET_NAME) if self.folder else ""

    def env(self, prefix: str) -> dict[str, str]:
        """The kernel's env: where to listen, and the path prefix the server is reached at."""
        if self.socket_path:
            return {"KG_SERVE_SOCKET": self.socket_path, "KG_SERVE_PREFIX": prefix}
        port = str(self.port)
        return {"KG_SERVE_PORT": port, "PORT": port, "KG_SERVE_PREFIX": prefix}

    def upstream(self, info: Mapping[str, Any]) -> Upstream:
        """The server, on the host of the kernel whose connection info is `info`."""
        if self.socket_path:
            return Upstream(socket_path=self.socket_path)
        return Upstream(kernel_host(info), self.port)

    def remove(self) -> None:
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


class ServedServer:
    """One pool's server: `start` once the pool is seeded, `ready` per request, `close`."""

    def __init__(
        self,
        name: str,
        spec: ServeSpec,
        prefix: str,
        manager: MappingKernelManager,
        start_timeout: float,
        give_up: Callable[[ServedServer, str], None],
    ) -> None:
        self.name = name  # the app's slug, in log lines
        self.spec = spec
        self.address = ServeAddress(spec)
        self.env = self.address.env(prefix)
        self.manager = manager
        self.start_timeout = start_timeout or DEFAULT_START_TIMEOUT
        self.give_up = give_up
        self.status = "starting"  # answering, restarting
        self.restarts = 0
        self.last_restart: tuple[str, float] | None = None  # reason, time
        self.pool: KernelPool | None = None
        self.upstream = self.address.upstream({})  # a local kernel's, until one is ready
        self._kernel_id = ""  # of the kernel whose server answers
        self._up = asyncio.Event()
        self._died = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- life --------------------------------------------------------------------------------

    async def start(self, pool: KernelPool, timeout: float) -> None:
        """Wait (up to `timeout` s: what start_timeout leaves after seeding) until the seeded
        pool's server answers, then supervise it; StartupError if it never does."""
        self.pool = pool
        self._unsubscribe = self.manager.events.subscribe(self._on_event)
        if not await self._comes_up(time.monotonic() + timeout):
            raise StartupError(
                f"the server did not answer at {self.upstream.describe()} within "
                f"{self.start_timeout:g} s"
            )
        self._task = asyncio.ensure_future(self._supervise())
        self._task.add_done_callback(self._ended)

    async def close(self) -> None:
        """Stop supervising, and delete the socket's folder (the pool's kernels are stopped by
        their pool, which takes their servers down)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # `_ended` logged it
                await self._task
        self.address.remove()

    async def ready(self, timeout: float) -> Upstream:
        """The server's address once it answers; KernelUnavailable (503) after `timeout` s."""
        if not self._up.is_set():
            try:
                await asyncio.wait_for(self._up.wait(), timeout or None)
            except asyncio.TimeoutError:
                raise KernelUnavailable(
                    f"The app's server is {self.status} and did not answer within {timeout:g} s",
                    retry_after=max(int(timeout), 1),
                ) from None
        return self.upstream

    def model(self) -> dict[str, Any]:
        """The server as the app's model shows it."""
        last = None
        if self.last_restart is not None:
            last = {"reason": self.last_restart[0], "at": iso_time(self.last_restart[1])}
        return {
            "address": self.upstream.describe(),
            "status": self.status,
            "restarts": self.restarts,
            "last_restart": last,
        }

    # -- waiting -----------------------------------------------------------------------------

    def kernel(self) -> ManagedKernel | None:
        """The pool's kernel (a new one after the pool replaced a dead one)."""
        members = self.pool.members if self.pool is not None else {}
        return next(iter(members.values()), None)

    async def _comes_up(self, deadline: float) -> bool:
        """Wait until the pool has a ready kernel and its server answers, until `deadline`."""
        while (left := deadline - time.monotonic()) > 0:
            kernel = self.kernel()
            if kernel is None or not kernel.is_ready:
                with contextlib.suppress(TimeoutError, GatewayError):
                    if kernel is not None:
                        await kernel.ready(min(left, 1.0))
                await asyncio.sleep(WAIT_STEP)
                continue
            self._kernel_id = kernel.id
            self.upstream = self.address.upstream(kernel.km.get_connection_info())
            if await answers(self.upstream, self.spec.health, min(left, PROBE_TIMEOUT)):
                self.status = "answering"
                self._up.set()
                return True
            await asyncio.sleep(WAIT_STEP)
        return False

    # -- supervision -------------------------------------------------------------------------

    def _on_event(self, event: KernelEvent) -> None:
        """The kernel died: jupyter_client restarts it (or the pool replaces it)."""
        dying = event.new is KernelState.DEAD or (
            event.new is KernelState.RESTARTING and event.reason is Reason.AUTO
        )
        if event.kernel_id == self._kernel_id and dying:
            self._died.set()

    async def _supervise(self) -> None:
        failed = 0
        reason = await self._watch()
        while True:
            self._restarting(reason)
            if reason != DIED:
                await self._restart_kernel()
            if await self._comes_up(time.monotonic() + self.start_timeout):
                log.info("App %s: its server answers again", self.name)
                failed = 0
                reason = await self._watch()
                continue
            failed += 1
            if failed >= MAX_FAILED_RESTARTS:
                self.give_up(self, f"the server did not answer after {failed} restarts in a row")
                return
            reason = NOT_BACK

    async def _watch(self) -> str:
        """Probe the server until it needs a restart; return why."""
        self._died.clear()
        failures = 0
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._died.wait(), PROBE_INTERVAL)
            if self._died.is_set():
                return DIED
            if await answers(self.upstream, self.spec.health, PROBE_TIMEOUT):
                failures = 0
                continue
            failures += 1
            if failures >= PROBE_FAILURES:
                return SILENT

    def _restarting(self, reason: str) -> None:
        self._up.clear()
        self.status = "restarting"
        self.restarts += 1
        self.last_restart = (reason, time.time())
        log.warning("App %s: %s; restarting its kernel", self.name, reason)

    async def _restart_kernel(self) -> None:
        """Restart the kernel in place (its process group killed, so a server it started as
        a subprocess goes too) and run its seed cells again."""
        kernel = self.kernel()
        if kernel is None or not kernel.is_ready:
            return  # dying or being replaced: the restart is under way already
        try:
            await self.manager.restart_kernel(kernel.id, now=True)
        except (GatewayError, TimeoutError, RuntimeError) as err:
            log.warning("Restarting kernel %s failed: %s", kernel.id, err)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("App %s: supervising its server failed: %s", self.name, task.exception())
