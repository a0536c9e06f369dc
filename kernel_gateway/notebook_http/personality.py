"""NotebookHTTPPersonality: notebooks' annotated cells as HTTP APIs.

The seed notebook is the app mounted at the root; with apps_dir, each app of that folder is
mounted at /apps/<slug> (apps/registry.py). The seed notebook is parsed when the personality
is made, so a bad one stops start-up before any kernel starts; `start()` then fills its pool.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from traitlets import HasTraits, TraitType

from ..base.api_page import api_page_routes
from ..base.routing import WhenPath
from ..base.websocket import OpenWebSockets
from ..config import class_options, section_help
from ..errors import KernelUnavailable, NotFound, StartupError
from ..personality import GatewayContext, Personality, Route
from ..seed import parse_notebook_json, read_uri
from ..services.kernels.pool import KernelPool
from .app import NotebookApp
from .app_page import app_page_routes
from .app_proxy import AppProxyHandler, is_served
from .apps.registry import AppRegistry, RegistryOptions
from .apps.scan import SLUG_PATTERN
from .apps.settings import AppSettings
from .apps.signature import SignatureChecker
from .apps.watch import watch_notebooks
from .apps_handlers import AppHandler, AppReloadHandler, AppsHandler, DeployAccess
from .handlers import EndpointHandler
from .options import AppsOptions, EndpointOptions
from .public_files import AppPublicFileHandler, PublicFileHandler
from .streaming.writer import StreamSettings
from .version import AppVersion, ParseOptions, build_version, content_digest

MiB = 1024 * 1024
ROOT_APP = "/"  # the app name of the seed notebook, in metrics
SIGNATURE_JOURNAL = ".kg-used-signatures"  # in apps_dir: hidden from the scan
SLUG = f"(?P<slug>{SLUG_PATTERN})"


class NotebookHTTPPersonality(EndpointOptions, AppsOptions, Personality):
    """Serves the cells annotated `# METHOD /path` of the seed notebook (at the root) and of
    the apps of apps_dir (at /apps/<slug>) as endpoints."""

    mode_name = "notebook-http"

    @classmethod
    def class_own_traits(cls, **metadata: Any) -> dict[str, TraitType[Any, Any]]:
        """Its own traits and those of its option mixins, which are not sections of their
        own: traitlets lists a class in `--help-all` and config files by its own traits."""
        mixed = {
            name: trait
            for name, trait in class_options(cls).items()
            if all(trait.metadata.get(key) == value for key, value in metadata.items())
        }
        return {**mixed, **super().class_own_traits(**metadata)}

    @classmethod
    def class_get_help(cls, inst: HasTraits | None = None) -> str:
        """traitlets' help of the class, headed `NotebookHTTPPersonality(Personality)`."""
        return section_help(cls, super().class_get_help(inst), "Personality")

    def __init__(self, context: GatewayContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        if context.seed_notebook is None and not self.apps_dir:
            raise StartupError(
                "notebook-http mode serves a notebook: give one with --seed_uri=NOTEBOOK.ipynb "
                "(or KG_SEED_URI), or a folder of them with "
                "--NotebookHTTPPersonality.apps_dir=DIR (or KG_APPS_DIR)"
            )
        base = "/" + context.base_url.strip("/")
        self.base_path = "" if base == "/" else base
        self.root = self.root_app() if context.seed_notebook is not None else None
        self.registry = self.app_registry() if self.apps_dir else None
        self._stopping = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self.proxied = OpenWebSockets()  # served apps' websockets

    def parse_options(self, defaults: AppSettings, read_metadata: bool) -> ParseOptions:
        return ParseOptions(
            cell_parser=self.cell_parser,
            comment_prefix=dict(self.comment_prefix),
            max_body_size=self.max_body_size,
            show_tracebacks=self.show_tracebacks,
            defaults=defaults,
            read_metadata=read_metadata,
            fast_path=self.fast_path,
            streaming=StreamSettings(
                self.max_response_size, self.stream_buffer_size, self.sse_ping_interval
            ),
        )

    def root_version(self, notebook: dict[str, Any], text: str | None) -> AppVersion:
        """The seed notebook (`text`: as its file has it) parsed as the root app's version;
        StartupError if it is bad."""
        size = self.context.prespawn_count or 1
        defaults = AppSettings(size, self.request_timeout, self.max_queue_wait)
        data = text if text is not None else json.dumps(notebook, sort_keys=True)
        options = self.parse_options(defaults, read_metadata=False)
        return build_version(
            notebook, content_digest(data.encode()), options, self.seed_title(), text=text
        )

    def root_app(self) -> NotebookApp:
        manager = self.context.kernel_manager
        app = NotebookApp("", manager, 0, kernel_name=self.context.default_kernel_name or None)
        app.set_version(self.root_version(self.context.seed_notebook or {}, self.context.seed_text))
        return app

    def app_registry(self) -> AppRegistry:
        defaults = AppSettings(1, self.request_timeout, self.max_queue_wait, self.app_idle_stop)
        options = RegistryOptions(
            apps_dir=Path(self.apps_dir or ".").expanduser().resolve(),
            parse=self.parse_options(defaults, read_metadata=True),
            start_timeout=self.app_start_timeout,
            eager=self.apps_start == "eager",
            max_kernels=self.context.kernel_manager.policy.max_kernels,
            ephemeral_ttl=self.ephemeral_ttl,
            max_app_size=self.max_app_size,
        )
        manager = self.context.kernel_manager
        return AppRegistry(options, manager, self.mount_url, self.root)

    def mount_url(self, slug: str) -> str:
        """The path app `slug` is served under."""
        return f"{self.base_path}/apps/{slug}"

    def seed_path(self) -> Path:
        """The seed notebook's file, symlinks resolved."""
        return Path(self.context.seed_uri or "").expanduser().resolve()

    def seed_title(self) -> str:
        uri = self.context.seed_uri or "notebook"
        return Path(uri.rstrip("/").split("/")[-1]).stem

    def find_app(self, slug: str | None) -> NotebookApp:
        """The root app (slug None) or the app named `slug`; NotFound if there is none."""
        if slug is not None and self.registry is not None:
            return self.registry.get(slug)
        if self.root is None:
            raise NotFound("No notebook is served at the root")
        return self.root

    def handlers(self) -> list[Route]:
        served = {"find": self.find_app, "base_path": self.base_path}
        endpoint = {**served, "allow_source": self.allow_notebook_download}
        routes: list[Route] = []
        if self.registry is not None:
            signatures = None
            if self.deploy_key:
                journal = self.registry.options.apps_dir / SIGNATURE_JOURNAL
                signatures = SignatureChecker(self.deploy_key, self.deploy_signature_ttl, journal)
            access = DeployAccess(signatures, self.base_path, self.max_app_size)
            api = {"registry": self.registry, "access": access}
            proxy = {
                "find": self.find_app,
                "websockets": self.proxied,
                "timeout": self.context.kernel_proxy_timeout,
            }
            served_app = WhenPath(
                rf"/apps/{SLUG}(?:/.*)?", lambda kwargs: is_served(self.find_app, kwargs["slug"])
            )
            routes += [
                (served_app, AppProxyHandler, proxy),  # a served app's server owns its URLs
                (r"/_api/apps/?", AppsHandler, api),
                (rf"/_api/apps/{SLUG}/?", AppHandler, api),
                (rf"/_api/apps/{SLUG}/reload/?", AppReloadHandler, api),
                *app_page_routes(SLUG, self.find_app),
                (rf"/apps/{SLUG}/public/(?P<path>.*)", AppPublicFileHandler, served),
                (rf"/apps/{SLUG}(?:/.*)?", EndpointHandler, {**endpoint, "in_apps": True}),
            ]
        if self.root is not None and self.root.version is not None:
            if self.static_path:
                routes.append((r"/public/(.*)", PublicFileHandler, {"path": self.static_path}))
            # the notebook's own paths first (its `# GET /api` wins over the version route),
            # then every other path but /api, for paths a reloaded notebook adds
            routes += api_page_routes("/_api/docs", "/_api/spec/swagger.json", self.seed_title())
            routes += [(r.pattern, EndpointHandler, endpoint) for r in self.root.version.routes]
            routes.append((r"/(?!api/?$).*", EndpointHandler, endpoint))
        return routes

    def summary(self, url: str) -> list[str]:
        """The root notebook's endpoints and spec URLs, then where the apps are listed."""
        lines = []
        if self.root is not None and self.root.version is not None:
            lines += [
                f"Endpoint {method} {url}{route.path}"
                for route in self.root.version.routes
                for method in route.methods
            ]
            spec = f"{url}/_api/spec"
            lines.append(
                f"API spec: {spec}/swagger.json (Swagger 2.0), {spec}/openapi.json (OpenAPI 3.1)"
            )
            lines.append(f"API page: {url}/_api/docs")
            if self.allow_notebook_download:
                lines.append(f"Notebook: {url}/_api/source")
        if self.registry is not None:
            count = len(self.registry.apps)
            lines.append(
                f"Apps: {count} from {self.registry.options.apps_dir} at {url}/apps/<slug>/, "
                f"listed at {url}/_api/apps"
            )
        return lines

    def pools(self) -> dict[str, KernelPool]:
        """The pools serving now, by app name (`/` for the root notebook, else the slug)."""
        apps = [self.root] if self.root is not None else []
        apps += list(self.registry.apps.values()) if self.registry is not None else []
        return {app.slug or ROOT_APP: app.live.pool for app in apps if app.live is not None}

    def missing(self) -> list[str]:
        """Not ready while the root notebook's pool has no seeded kernel (apps start on
        demand, so they don't count)."""
        if self.root is None:
            return []
        live = self.root.live
        return [] if live is not None and live.pool.members else ["pool_empty"]

    def server_body_limit(self) -> int:
        largest = max(self.max_body_size, self.max_app_size if self.apps_dir else 0)
        return largest + MiB

    async def start(self) -> None:
        if self.root is not None:
            try:
                await self.root.start()
            except KernelUnavailable as err:
                raise StartupError(self.root.error or str(err)) from err
            if self.root.live is not None:
                live = self.root.live
                path = live.fast.path_name()
                self.log.info("Kernel pool of %d: requests take %s", live.pool.size, path)
            if self.watch_seed and self.context.seed_uri:
                self.start_watching_seed(self.context.seed_uri)
        if self.registry is not None:
            await self.registry.start()

    def start_watching_seed(self, uri: str) -> None:
        """Watch the seed notebook's file; only a local file can be watched."""
        if uri.startswith(("http://", "https://")):
            self.log.warning("watch_seed has no effect: the seed notebook %s is not a file", uri)
            return
        self._watcher = asyncio.ensure_future(self.watch_root(self.seed_path()))
        self._watcher.add_done_callback(self.watching_ended)

    def watching_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Watching the seed notebook failed: %s", task.exception())

    async def watch_root(self, seed: Path) -> None:
        """Reload the root app whenever the seed notebook's file changes."""
        await watch_notebooks(seed.parent, self.reload_root, self._stopping, only=seed)

    async def reload_root(self) -> None:
        """Serve the seed notebook as it is now; a bad one leaves the old one serving."""
        if self.root is None or not self.context.seed_uri:
            return
        try:
            text = read_uri(self.context.seed_uri)
            version = self.root_version(parse_notebook_json(text, self.context.seed_uri), text)
        except StartupError as err:
            self.root.reject(f"new version not served: {err}")
            return
        await self.root.reload(version)

    async def stop(self) -> None:
        self._stopping.set()
        self.proxied.close_all()
        if self._watcher is not None:
            self._watcher.cancel()
        if self.registry is not None:
            await self.registry.stop()
        if self.root is not None:
            await self.root.stop(grace=0)
