"""AppRegistry: the apps of apps_dir by slug, kept in step with the folder.

Who calls what: the personality calls `start()` before serving and `stop()` at shutdown; the
watcher calls `refresh()` when notebooks change; handlers call `get`, `models`, `reload`,
`deploy`, `create_ephemeral` and `delete`; apps call `reserve` before they start kernels.
Changes to the set of apps are serialized by one lock; each app serializes its own starts
and reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import KernelUnavailable, NotFound, StartupError
from ...seed import parse_notebook_json
from ...services.kernels.manager import MappingKernelManager
from ..app import NotebookApp, StateListener
from ..app_model import AppModel
from ..version import ParseOptions, build_version, content_digest, decode_notebook
from .deploy import clear_leftovers, install, remove, retire
from .scan import EPHEMERAL_MARK, AppScanner, AppSource
from .upload import Upload, stage
from .watch import watch_notebooks

TICK = 0.5  # seconds between checks for idle and expired apps
RETRY_AFTER = 5  # seconds a client is told to wait when max_kernels leaves no room
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistryOptions:
    """The mode's options that concern apps."""

    apps_dir: Path
    parse: ParseOptions
    start_timeout: float
    eager: bool
    max_kernels: int | None
    ephemeral_ttl: float
    max_app_size: int
    watch: bool = True


class AppRegistry:
    """The apps of one folder, and the root app they share max_kernels with."""

    def __init__(
        self,
        options: RegistryOptions,
        manager: MappingKernelManager,
        mount_url: Callable[[str], str],
        root: NotebookApp | None = None,
    ) -> None:
        self.options = options
        self.manager = manager
        self.mount_url = mount_url
        self.root = root
        self.apps: dict[str, NotebookApp] = {}
        self.sources: dict[str, AppSource] = {}
        self.scanner = AppScanner(options.apps_dir)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Future[None]] = set()
        self._seen: dict[str, str] = {}  # slug -> digest of the notebook last read
        self._marked: dict[str, float] = {}  # ephemeral slug -> last request written to disk
        # observers of every app's state (metrics, logs): called (app, old, new)
        self.state_listeners: list[StateListener] = []

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every app (starting them all with eager), then watch the folder."""
        if not self.options.apps_dir.is_dir():
            raise StartupError(f"apps_dir {self.options.apps_dir} is not a folder")
        clear_leftovers(self.options.apps_dir)
        await self.refresh()
        if self.options.eager:
            await asyncio.gather(
                *(app.start() for app in self.apps.values()), return_exceptions=True
            )
        self._spawn(self._tick())
        if self.options.watch:
            self._spawn(watch_notebooks(self.options.apps_dir, self.refresh, self._stopping))

    async def stop(self) -> None:
        """Stop watching and expiring, then every app's kernels at once (the gateway's own
        grace period for requests in flight is over)."""
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await asyncio.gather(*(app.stop(grace=0) for app in self.apps.values()))

    # -- reading -----------------------------------------------------------------------------

    def get(self, slug: str) -> NotebookApp:
        """The app named `slug`; NotFound if there is none."""
        app = self.apps.get(slug)
        if app is None:
            raise NotFound(f"No app named {slug}")
        return app

    def model(self, slug: str) -> AppModel:
        """What /_api/apps/<slug> shows."""
        app = self.get(slug)
        source = self.sources[slug]
        return app.model(source.ephemeral, self.options.ephemeral_ttl)

    def models(self) -> list[AppModel]:
        """Every app's model, by slug."""
        return [self.model(slug) for slug in sorted(self.apps)]

    # -- keeping in step with the folder ------------------------------------------------------

    async def refresh(self, force: frozenset[str] = frozenset()) -> None:
        """Add, reload and remove apps after the folder's notebooks; `force` reloads those
        slugs even when unchanged (and starts failed ones afresh). New pools start outside
        the lock, side by side."""
        async with self._lock:
            found = self.scanner.scan()
            for slug in set(self.apps) - set(found):
                self._forget(slug)
            pending = [self._load(source, slug in force) for slug, source in found.items()]
        await asyncio.gather(*(work for work in pending if work is not None))

    def _forget(self, slug: str, drain: bool = True) -> NotebookApp:
        """Take an app out of the table (new requests get 404) and, with `drain`, stop it in
        the background once its requests are done."""
        app = self.apps.pop(slug)
        self.sources.pop(slug, None)
        self._seen.pop(slug, None)
        if drain:
            self._spawn(app.stop())
        log.info("App %s removed", slug)
        return app

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Upkeep of the apps failed: %s", task.exception())

    def _load(self, source: AppSource, force: bool) -> Coroutine[Any, Any, None] | None:
        """Read an app's notebook; the reload to await if it is new or changed."""
        slug = source.slug
        try:
            data = source.notebook.read_bytes()
        except OSError as err:
            log.warning("App %s: can't read %s: %s", slug, source.notebook, err)
            return None
        digest = content_digest(data)
        if self._seen.get(slug) == digest and not force:
            return None
        self._seen[slug] = digest
        app = self.apps.get(slug) or self._new_app(source)
        self.sources[slug] = source
        app.cwd, app.public = self._places(source)
        try:
            text = decode_notebook(data, source.notebook)
            notebook = parse_notebook_json(text, source.notebook.name)
            version = build_version(
                notebook, digest, self.options.parse, slug, self.mount_url(slug), text
            )
        except StartupError as err:
            app.reject(f"version {digest}: {err}")
            return None
        if force and app.state == "failed":
            app.set_version(version)
            return None
        return app.reload(version, fresh=force)

    def _places(self, source: AppSource) -> tuple[Path, Path | None]:
        """An app's working directory and public folder."""
        if source.folder is None:
            return self.options.apps_dir, None
        return source.folder.resolve(), (source.folder / "public").resolve()

    def _new_app(self, source: AppSource) -> NotebookApp:
        app = NotebookApp(source.slug, self.manager, self.options.start_timeout, None, self.reserve)
        app.state_listeners = self.state_listeners  # one list, shared by every app
        app.mount_url = self.mount_url(source.slug)
        if source.ephemeral and source.folder is not None:
            with contextlib.suppress(OSError):
                app.last_request = (source.folder / EPHEMERAL_MARK).stat().st_mtime
        self.apps[source.slug] = app
        log.info("App %s found at %s", source.slug, source.notebook)
        return app

    async def reload(self, slug: str) -> AppModel:
        """Read an app's notebook again and serve it, even when unchanged."""
        self.get(slug)
        await self.refresh(frozenset({slug}))
        return self.model(slug)

    # -- deploys -----------------------------------------------------------------------------

    async def deploy(self, slug: str, upload: Upload) -> tuple[AppModel, bool]:
        """Create or replace app `slug` from an upload; (its model, whether it is new).

        Raises BadRequest, with nothing written, when the upload is not a valid app.
        """
        staged = await stage(upload, self.options, slug, self.mount_url(slug))
        async with self._lock:
            existing = self.scanner.scan().get(slug)
            retired = install(self.options.apps_dir, slug, staged, existing)
            reload = self._load(self.scanner.scan()[slug], force=True)
        if reload is not None:
            await reload
        if retired:
            self._spawn(self._remove_after(self.get(slug), retired))
        return self.model(slug), existing is None

    async def create_ephemeral(self, upload: Upload) -> AppModel:
        """Deploy an upload as an app under a random slug that expires when unused."""
        slug = secrets.token_hex(16)
        staged = await stage(upload, self.options, slug, self.mount_url(slug), ephemeral=True)
        async with self._lock:
            install(self.options.apps_dir, slug, staged, None)
            reload = self._load(self.scanner.scan()[slug], force=True)
            self.apps[slug].last_request = time.time()
        if reload is not None:
            await reload
        return self.model(slug)

    async def delete(self, slug: str) -> None:
        """Remove app `slug`: out of the table (404 at once), its requests drained, then its
        files deleted."""
        async with self._lock:
            self.get(slug)
            source = self.sources[slug]
            app = self._forget(slug, drain=False)
            retired = retire(self.options.apps_dir, source.paths)
        await app.stop()
        for path in retired:
            await asyncio.to_thread(remove, path)

    async def _remove_after(self, app: NotebookApp, retired: list[Path]) -> None:
        """Delete an app's replaced files once the versions that ran in them are shut down."""
        await app.settle()
        for path in retired:
            await asyncio.to_thread(remove, path)

    # -- room for kernels, idle stop, expiry ---------------------------------------------------

    def kernels_in_use(self, starting: NotebookApp) -> int:
        """Kernels held by every app's pools, plus those of apps starting besides `starting`."""
        apps = [*self.apps.values(), *([self.root] if self.root else [])]
        held = sum(app.live.pool.size for app in apps if app.live is not None)
        held += sum(
            app.version.settings.pool_size
            for app in apps
            if app is not starting and app.state == "starting" and app.version is not None
        )
        return max(held, len(self.manager.kernel_ids()))

    async def reserve(self, app: NotebookApp, kernels: int) -> None:
        """Make room for `kernels` more under max_kernels, stopping the least recently used
        apps with nothing in flight; KernelUnavailable (503, Retry-After) when none can go."""
        limit = self.options.max_kernels
        while limit is not None and self.kernels_in_use(app) + kernels > limit:
            idle = [
                other
                for other in self.apps.values()
                if other is not app
                and other.state == "running"
                and other.in_flight == 0
                and not other.changing  # a reload of it may be waiting for this very room
            ]
            if not idle:
                raise KernelUnavailable(
                    f"max_kernels ({limit}) is reached and no app can be stopped to make room",
                    retry_after=RETRY_AFTER,
                )
            victim = min(idle, key=lambda other: other.last_request or 0.0)
            log.info("App %s stopped to make room for app %s", victim.slug, app.slug)
            await victim.stop()

    async def _tick(self) -> None:
        """Stop apps idle for their idle_stop, delete ephemeral apps past their ttl."""
        while not self._stopping.is_set():
            await asyncio.sleep(TICK)
            now = time.time()
            for slug, app in list(self.apps.items()):
                source = self.sources.get(slug)
                if source is not None and source.ephemeral:
                    await self._expire(slug, app, source, now)
                    continue
                idle_stop = app.version.settings.idle_stop if app.version else 0.0
                idle = app.state == "running" and not app.changing
                if idle_stop and idle and app.idle_for(now) > idle_stop:
                    log.info("App %s idle for %gs; stopping its kernels", slug, idle_stop)
                    await app.stop()

    async def _expire(self, slug: str, app: NotebookApp, source: AppSource, now: float) -> None:
        last = app.last_request or now
        if app.in_flight == 0 and now - last > self.options.ephemeral_ttl:
            log.info("Ephemeral app %s expired", slug)
            with contextlib.suppress(NotFound):
                await self.delete(slug)
        elif source.folder is not None and self._marked.get(slug) != last:
            with contextlib.suppress(OSError):  # on disk, so a restart knows the last request
                os.utime(source.folder / EPHEMERAL_MARK, (last, last))
                self._marked[slug] = last
