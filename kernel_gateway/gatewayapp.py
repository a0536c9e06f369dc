"""KernelGatewayApp: traits -> objects -> tornado app -> serve -> stop.

Options are read command line > config file (`jupyter_kernel_gateway_config.py`) > `KG_*`
variables > defaults. `api` picks the personality (mode) that supplies the routes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import sys
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.application import JupyterApp, NoStart, base_flags
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import HasTraits, Instance, TraitError, Type, default

from . import serving, startup_log
from ._version import __version__
from .access_log import AccessLog
from .base.handlers import APIVersionHandler, NotFoundHandler
from .base.routing import under
from .config import OnceEach, env_config, section_help, unset_in
from .errors import StartupError
from .kernel_options import UNUSED_SERVER_OPTIONS, KernelOptions
from .operations.risks import risky_settings
from .operations.service import Operations
from .options import EXAMPLES, ServerOptions, aliases
from .personality import GatewayContext, Personality, api_module
from .seed import parse_notebook_json, read_uri
from .services.kernels.manager import KernelPolicy, MappingKernelManager
from .services.kernels.specs import check_kernel
from .services.proxy import parse_port_ranges

BODY_TIMEOUT = 600.0  # seconds a request body may take to arrive


# The options are declared by ServerOptions (options.py) and KernelOptions (kernel_options.py),
# and configured as `KernelGatewayApp.<name>`; they come first so that `log_format` is theirs.
class KernelGatewayApp(ServerOptions, KernelOptions, JupyterApp):
    """Jupyter Kernel Gateway: Jupyter kernels as HTTP and websocket services."""

    name = "jupyter-kernelgateway"
    version = __version__
    description = "Provisions Jupyter kernels and serves them over HTTP and websockets."
    aliases = aliases
    flags = base_flags
    examples = EXAMPLES

    kernel_manager_class = Type(
        default_value=MappingKernelManager,
        klass=MappingKernelManager,
        help="The kernel manager class to use: kernel_gateway's MappingKernelManager or a "
        "subclass of it",
    ).tag(config=True)
    kernel_spec_manager_class = Type(
        default_value=KernelSpecManager,
        klass=KernelSpecManager,
        help="The kernel spec manager class to use: a subclass of "
        "jupyter_client.kernelspec.KernelSpecManager",
    ).tag(config=True)

    kernel_spec_manager = Instance(KernelSpecManager, allow_none=True)

    @classmethod
    def class_get_help(cls, inst: HasTraits | None = None) -> str:
        """traitlets' help of the class, headed as `KernelGatewayApp(JupyterApp) options`:
        the option mixins are not sections of their own."""
        return section_help(cls, super().class_get_help(inst), "JupyterApp")

    def get_default_logging_config(self) -> dict[str, Any]:
        """Text lines in one format (LOG_FORMAT), or JSON lines (json_logs.py) for json.

        `log_format` is `text` or `json` here (traitlets uses the name for the template)."""
        if self.log_format == "json":
            return startup_log.json_config(type(self).__name__, self.log_level)
        return startup_log.text_config(super().get_default_logging_config())

    @default("config_file_name")
    def _config_file_name_default(self) -> str:
        return "jupyter_kernel_gateway_config"

    @default("log_datefmt")
    def _log_datefmt_default(self) -> str:
        return startup_log.LOG_DATE_FORMAT

    @property
    def classes(self) -> list[type]:  # type: ignore[override]
        from .jupyter_websocket import JupyterWebsocketPersonality
        from .notebook_http import NotebookHTTPPersonality

        return [
            KernelGatewayApp,
            MappingKernelManager,
            KernelSpecManager,
            JupyterWebsocketPersonality,
            NotebookHTTPPersonality,
        ]

    # -- set-up ------------------------------------------------------------------------------

    def initialize(self, argv: list[str] | None = None) -> None:
        """Read the command line, config file and KG_* variables, then build objects."""
        env = env_config(self.classes)
        if "log_format" in env.KernelGatewayApp:  # JSON from the first line on; the config
            self.log_format = env.KernelGatewayApp.log_format  # file and command line still win
        once_each = OnceEach()
        self.log.addFilter(once_each)
        try:
            super().initialize(argv)
            self.update_config(unset_in(env, self.config))
        finally:
            self.log.removeFilter(once_each)
        for name in sorted(set(self.config.KernelGatewayApp) & set(UNUSED_SERVER_OPTIONS)):
            self.log.warning(
                "KernelGatewayApp.%s has no effect: %s", name, UNUSED_SERVER_OPTIONS[name]
            )
        if self.generate_config or self.show_config or self.show_config_json:
            return
        startup_log.adopt_library_logs(self.log)
        self.personality = self.create_personality()
        for warning in risky_settings(
            self.ip, self.unix_socket, self.auth_token, self.allow_origin, self.allow_credentials
        ):
            self.log.warning("%s", warning)

    def create_personality(self) -> Personality:
        self.check_kernel_counts()
        seed_text = notebook = None
        if self.seed_uri:
            seed_text = read_uri(self.seed_uri)
            notebook = parse_notebook_json(seed_text, self.seed_uri)
        kernelspec = notebook["metadata"].get("kernelspec", {}) if notebook else {}
        seed_kernel = kernelspec.get("name", "") if isinstance(kernelspec, dict) else ""
        default_kernel = self.default_kernel_name or seed_kernel
        self.kernel_spec_manager = self.kernel_spec_manager_class(parent=self)
        kernel_manager = self.kernel_manager_class(
            parent=self,
            log=self.log,
            connection_dir=self.runtime_dir,
            kernel_spec_manager=self.kernel_spec_manager,
            policy=KernelPolicy(
                max_kernels=self.max_kernels,
                default_kernel_name=default_kernel,
                force_kernel_name=self.force_kernel_name,
                env_process_whitelist=tuple(self.env_process_whitelist),
            ),
        )
        policy = kernel_manager.policy
        first_kernel = policy.force_kernel_name or default_kernel
        check_kernel(self.kernel_spec_manager, first_kernel or kernel_manager.default_kernel_name)
        context = GatewayContext(
            kernel_manager=kernel_manager,
            policy=self.access_policy(),
            seed_notebook=notebook,
            seed_uri=self.seed_uri,
            prespawn_count=self.prespawn_count,
            default_kernel_name=default_kernel,
            kernel_pool_size=self.kernel_pool_size,
            kernel_proxy_ports=parse_port_ranges(self.kernel_proxy_ports),
            kernel_proxy_timeout=self.kernel_proxy_timeout,
            seed_text=seed_text,
            base_url=self.base_url,
        )
        return api_module(self.api).create_personality(context=context, parent=self, log=self.log)

    def operations(self, tracker: serving.RequestTracker) -> Operations:
        """Probes and metrics of this gateway, fed by its kernel manager and mode."""
        return Operations(
            tracker,
            self.personality.context.kernel_manager,
            self.personality.missing,
            self.personality.pools,
            AccessLog(self.log, self.log_requests),
            enable_metrics=self.enable_metrics,
            metrics_auth=self.metrics_auth,
        )

    def web_app(self, tracker: serving.RequestTracker, operations: Operations) -> web.Application:
        """The tornado application: operations routes, then the mode's, under base_url.

        The probes are also served at the root when base_url is set: probes don't know it.
        """
        prefix = self.base_url.rstrip("/")
        shared = {"policy": self.personality.context.policy, "tracker": tracker}
        # the mode's routes next: a notebook's own `# GET /api` wins over the version route
        routes = [
            *operations.routes(),
            *self.personality.handlers(),
            (r"/api/?", APIVersionHandler, {}),
        ]
        if prefix:
            routes = [(under(prefix, pattern), *rest) for pattern, *rest in routes]  # type: ignore[misc]
            routes += operations.probe_routes()
        return web.Application(
            [(pattern, handler, {**shared, **kwargs}) for pattern, handler, kwargs in routes],
            default_handler_class=NotFoundHandler,
            default_handler_args=shared,
            websocket_ping_interval=self.ws_ping_interval or None,
            log_function=operations.log_function,
        )

    # -- serving -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start kernels, listen, and serve until SIGTERM or SIGINT (SIGHUP is ignored); then
        shut down."""
        if self.generate_config or self.show_config or self.show_config_json:
            super().start()
            return
        asyncio.run(self.serve())

    async def serve(self) -> None:
        """Bind, start the mode, serve until a signal, then drain and stop every kernel.

        The port is bound before kernels start, so a port in use fails at once; it answers
        from then on (probes say "starting", other requests get 503) so that a liveness probe
        passes during a long start. A signal marks the gateway draining at once.
        """
        tracker = serving.RequestTracker()
        tracker.starting = True
        stopping = asyncio.Event()

        def stop() -> None:
            tracker.closing = True
            stopping.set()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        loop.add_signal_handler(signal.SIGHUP, self.ignore_hangup)
        manager = self.personality.context.kernel_manager
        ssl_options = serving.ssl_context(self.certfile, self.keyfile, self.client_ca)
        sockets, port = serving.listen(
            self.ip, self.port, self.port_retries, self.unix_socket, self.log
        )
        inode = os.stat(self.unix_socket).st_ino if self.unix_socket else 0
        operations = self.operations(tracker)
        server = self.http_server(self.web_app(tracker, operations), ssl_options)
        try:
            operations.start()
            server.add_sockets(sockets)
            await self.personality.start()
            tracker.starting = False
            self.log_serving(port)
            await stopping.wait()
            await self.drain(server, tracker)
        finally:
            server.stop()
            for sock in sockets:
                sock.close()
            if self.unix_socket:
                serving.remove_unix_socket(self.unix_socket, inode)
            await manager.shutdown_all()
            operations.stop()
        self.log.info("Gateway stopped; every kernel was shut down")

    def ignore_hangup(self) -> None:
        """SIGHUP (a closed terminal) leaves the gateway serving, as jupyter-kernel-gateway."""
        self.log.info("SIGHUP ignored: still serving (SIGTERM or Ctrl-C stops the gateway)")

    def http_server(
        self, app: web.Application, ssl_options: ssl.SSLContext | None
    ) -> serving.GatewayHTTPServer:
        """The HTTP server of `app`, with the gateway's limits and timeouts."""
        return serving.GatewayHTTPServer(
            app,
            xheaders=self.trust_xheaders,
            ssl_options=ssl_options,
            max_body_size=self.personality.server_body_limit(),
            idle_connection_timeout=self.http_idle_timeout,
            body_timeout=BODY_TIMEOUT,
        )

    def log_serving(self, port: int) -> None:
        """Where the gateway serves, and what (startup_log.py)."""
        where = startup_log.Listening(
            self.ip, port, self.unix_socket, bool(self.certfile), self.base_url, self.enable_metrics
        )
        startup_log.log_serving(self.log, self.personality, where)

    async def drain(self, server: HTTPServer, tracker: serving.RequestTracker) -> None:
        """Stop accepting, let requests in flight finish (up to the grace period), close all."""
        await serving.drain_requests(server, tracker, self.shutdown_grace_period, self.log)
        await self.personality.stop()
        await server.close_all_connections()


def launch_instance(argv: list[str] | None = None) -> None:
    """The console entry point: run the app, turning start-up errors into exit code 1."""
    app = KernelGatewayApp.instance()
    try:
        app.initialize(argv)
        app.start()
    except NoStart:
        return
    except (StartupError, TraitError) as err:  # TraitError: a bad value for a mode's option
        app.log.critical("%s", err)
        sys.exit(1)
