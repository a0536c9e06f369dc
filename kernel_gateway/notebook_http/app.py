"""NotebookApp: one notebook served as an HTTP API, with its own pool, router and specs.

The root seed notebook is the app mounted at "/"; the apps of apps_dir are mounted at
`/apps/<slug>`. An app is `stopped` (a version parsed, no kernels), `starting`, `running`
or `failed` (its start failed, or its notebook never parsed). Requests hold the `Live`
pair (version, pool) they started on, so a reload switches new requests to a new pool while
those in flight finish on the old one, which is shut down once they are done. A served app
(`metadata.kernel_gateway.serve`) has a `ServedServer` beside its pool (served.py): the web
server its seed cells start, which the app's requests are proxied to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..errors import GatewayError, KernelUnavailable, StartupError
from ..services.kernels.manager import MappingKernelManager
from ..services.kernels.pool import KernelPool
from ..services.kernels.pooling import STOP_TIMEOUT
from .app_model import AppModel, model_of
from .fastpath.pool import FastPath
from .served import ServedServer
from .version import AppVersion

DRAIN_TIMEOUT = 60.0  # seconds an old version's requests get before its kernels go
log = logging.getLogger(__name__)

Reserve = Callable[["NotebookApp", int], Awaitable[None]]
StateListener = Callable[["NotebookApp", str, str], None]


async def _no_limit(app: NotebookApp, kernels: int) -> None:
    return None


class Live:
    """A version and the pool serving it, with the requests that hold it."""

    def __init__(
        self,
        version: AppVersion,
        pool: KernelPool,
        fast: FastPath,
        server: ServedServer | None = None,
    ) -> None:
        self.version = version
        self.pool = pool
        self.fast = fast  # the pool's request runners
        self.server = server  # a served app's web server
        self.holds = 0
        self._released = asyncio.Event()

    def release(self) -> None:
        self.holds -= 1
        self._released.set()

    async def retire(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait (up to `timeout` s) for the requests holding this pair, then stop its pool
        (which shuts its kernels down at once if `timeout` is 0)."""
        deadline = time.monotonic() + timeout
        while self.holds and (left := deadline - time.monotonic()) > 0:
            self._released.clear()
            try:
                await asyncio.wait_for(self._released.wait(), left)
            except asyncio.TimeoutError:
                break
        if self.server is not None:  # no restarts of a kernel on its way out
            await self.server.close()
        await self.pool.stop(timeout=min(timeout, STOP_TIMEOUT))


class NotebookApp:
    """One notebook's endpoints, started on demand, reloaded without downtime."""

    def __init__(
        self,
        slug: str,
        manager: MappingKernelManager,
        start_timeout: float,
        cwd: Path | None = None,
        reserve: Reserve = _no_limit,
        public: Path | None = None,
        kernel_name: str | None = None,
    ) -> None:
        self.slug = slug
        self.mount_url = f"/apps/{slug}" if slug else ""  # the registry sets it with base_url
        self.public = public  # served at <mount>/public/
        self.kernel_name = kernel_name  # None: the one the notebook names
        self.manager = manager
        self.start_timeout = start_timeout
        self.cwd = cwd
        self.reserve = reserve
        self.state_listeners: list[StateListener] = []  # told (app, old, new) on each change
        self._state = "failed"
        self.version: AppVersion | None = None
        self.live: Live | None = None
        self.error: str | None = None
        self.last_request: float | None = None
        self.in_flight = 0
        self.started_at = time.time()
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> str:
        """stopped, starting, running or failed."""
        return self._state

    @state.setter
    def state(self, new: str) -> None:
        old, self._state = self._state, new
        if old != new:
            for listener in list(self.state_listeners):
                listener(self, old, new)

    # -- requests ----------------------------------------------------------------------------

    async def acquire(self) -> Live:
        """The pair a request runs on, starting the app if needed; release it when done.

        Raises KernelUnavailable (503) when the app failed or can't start.
        """
        self.last_request = time.time()
        self.in_flight += 1
        try:
            live = self.live if self.state == "running" else None
            if live is None:
                live = await self.start()
        except BaseException:
            self.in_flight -= 1
            raise
        live.holds += 1
        return live

    def release(self, live: Live) -> None:
        """A request that `acquire`d `live` is over."""
        live.release()
        self.in_flight -= 1
        self.last_request = time.time()

    # -- lifecycle ---------------------------------------------------------------------------

    def set_version(self, version: AppVersion) -> None:
        """Serve `version` from the next start on (for an app without kernels)."""
        self.version = version
        self.error = None
        if self.state == "failed":
            self.state = "stopped"

    def fail(self, message: str) -> None:
        """Record why the app can't serve at all; one log line says it."""
        self.error = message
        self.state = "failed"
        log.error("App %s: %s", self.slug or "/", message)

    def reject(self, message: str) -> None:
        """Record why a new version can't serve; the version before it (if any) serves on."""
        if self.version is None:
            self.fail(message)
            return
        self.error = message
        log.error(
            "App %s: %s; version %s serves on", self.slug or "/", message, self.version.digest
        )

    async def start(self) -> Live:
        """Start the app's pool (once, whoever asks); KernelUnavailable if that fails."""
        async with self._lock:
            if self.live is not None:
                return self.live
            if self.state == "failed" or self.version is None:
                raise KernelUnavailable(f"App {self.slug} failed: {self.error}")
            self.state = "starting"
            try:
                self.live = await self._launch(self.version)
            except StartupError as err:
                self.fail(str(err))
                raise KernelUnavailable(f"App {self.slug} failed to start: {err}") from err
            finally:
                if self.state == "starting":  # no room (max_kernels), or cancelled
                    self.state = "running" if self.live is not None else "stopped"
            self.state = "running"
            self.error = None
            self.started_at = time.time()
            return self.live

    async def _launch(self, version: AppVersion) -> Live:
        """A started pool for `version`, within start_timeout; StartupError otherwise."""
        await self.reserve(self, version.settings.pool_size)
        fast = FastPath(version.endpoint_settings.fast_path)
        server = self._served(version)
        pool = KernelPool(
            self.manager,
            version.settings.pool_size,
            self.kernel_name or version.kernel_name,
            seed_cells=version.parsed.seed_cells,
            cwd=str(self.cwd) if self.cwd is not None else None,
            seed_positions=version.seed_positions,
            prepare=fast.prepare if server is None else None,
            env=server.env if server is not None else None,
            restart_on_death=server is not None,
        )
        started = time.monotonic()
        try:
            await asyncio.wait_for(pool.start(), self.start_timeout or None)
            if server is not None:
                left = server.start_timeout - (time.monotonic() - started)
                await server.start(pool, max(left, 0.0))
        except BaseException as err:  # timed out or cancelled too: no kernel of it may stay
            if server is not None:
                await server.close()
            await pool.stop(timeout=0)
            if isinstance(err, asyncio.TimeoutError):
                raise StartupError(
                    f"version {version.digest} did not start within {self.start_timeout:g} s"
                ) from None
            if isinstance(err, StartupError) and self.slug:  # the root app's says it as is
                raise StartupError(f"version {version.digest}: {err}") from err
            raise
        if server is not None:
            log.info("App %s: its server answers at %s", self.slug, server.upstream.describe())
        elif self.slug:  # the root's line is the mode's, at start-up
            log.info("App %s: pool of %d, requests take %s", self.slug, pool.size, fast.path_name())
        return Live(version, pool, fast, server)

    def _served(self, version: AppVersion) -> ServedServer | None:
        """The server a served app's new pool will run; None for other apps."""
        spec = version.settings.serve
        if spec is None:
            return None
        return ServedServer(
            self.slug, spec, self.mount_url, self.manager, self.start_timeout, self._server_gave_up
        )

    def _server_gave_up(self, server: ServedServer, message: str) -> None:
        """A served app's server never came back: the app fails and its kernels go."""
        live = self.live
        if live is None or live.server is not server:
            return
        self.live = None
        self.fail(message)
        self._retire(live)

    async def reload(self, version: AppVersion, fresh: bool = False) -> None:
        """Serve `version`: beside the running one until it is ready, then instead of it.

        The same version as the running one is left alone, unless `fresh` (its folder was
        replaced, or a reload was asked for). When the new pool fails to start, the old
        version keeps serving and `error` says why.
        """
        async with self._lock:
            old = self.live
            if old is None:
                self.set_version(version)
                return
            if old.version.digest == version.digest and self.error is None and not fresh:
                return
            try:
                self.live = await self._launch(version)
            except (StartupError, GatewayError) as err:
                self.reject(f"new version not served: {err}")
                return
            self.version = version
            self.error = None
        self._retire(old)

    async def stop(self, grace: float = DRAIN_TIMEOUT) -> None:
        """Shut the app's kernels down once its requests are done (waiting up to `grace`
        seconds for them); it starts again on demand."""
        async with self._lock:
            old, self.live = self.live, None
            if self.state in ("running", "starting"):
                self.state = "stopped"
        if old is not None:
            await old.retire(grace)
        if not grace:  # the gateway is going: the manager shuts every kernel down next
            for task in self._retiring:
                task.cancel()
        await self.settle()

    def _retire(self, live: Live) -> None:
        task = asyncio.ensure_future(live.retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def settle(self) -> None:
        """Wait until the pools of replaced versions are shut down."""
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    # -- reading -----------------------------------------------------------------------------

    @property
    def changing(self) -> bool:
        """Whether a start, reload or stop is under way (another one would wait for it)."""
        return self._lock.locked()

    def idle_for(self, now: float) -> float:
        """Seconds since the last request (or the start), 0 while requests run."""
        if self.in_flight:
            return 0.0
        return now - max(self.last_request or 0.0, self.started_at)

    def model(self, ephemeral: bool = False, ttl: float = 0) -> AppModel:
        """The app as /_api/apps shows it."""
        return model_of(self, ephemeral, ttl)
