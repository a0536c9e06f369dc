"""KernelGatewayApp: traits -> objects -> tornado app -> serve -> stop.

Options are read command line > config file (`jupyter_kernel_gateway_config.py`) > `KG_*`
variables > defaults. `api` picks the personality (mode) that supplies the routes.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
import ssl
import sys
from types import ModuleType
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.application import JupyterApp, NoStart, base_aliases, base_flags
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Any as TraitAny
from traitlets import (
    Bunch,
    CaselessStrEnum,
    CBool,
    Instance,
    Integer,
    List,
    TraitError,
    Type,
    Unicode,
    default,
    validate,
)

from . import serving
from ._version import __version__
from .access_log import AccessLog
from .base.handlers import AccessPolicy, APIVersionHandler, NotFoundHandler
from .config import OnceEach, Seconds, env_config, unset_in
from .errors import StartupError
from .operations.json_logs import json_logging_config
from .operations.risks import risky_settings
from .operations.service import Operations
from .personality import GatewayContext, Personality
from .seed import parse_notebook_json, read_uri
from .services.kernels.manager import KernelPolicy, MappingKernelManager
from .services.kernels.specs import check_kernel
from .services.proxy import PortRangesTrait, parse_port_ranges

API_MODULES = {
    "jupyter-websocket": "kernel_gateway.jupyter_websocket",
    "notebook-http": "kernel_gateway.notebook_http",
}

#: jupyter_server options of jupyter-kernel-gateway 3 -> why they have no effect here.
UNUSED_SERVER_OPTIONS = {
    "authorizer_class": "access is decided by auth_token and the CORS/origin options",
    "identity_provider_class": "clients have no identity beyond the token",
    "cookie_secret": "the gateway issues no cookies",
    "cookie_secret_file": "the gateway issues no cookies",
    "kernel_websocket_connection_class": "the websocket bridge is built in",
}
BODY_TIMEOUT = 600.0  # seconds a request body may take to arrive
ANY_ADDRESS = ("", "0.0.0.0", "::")
LOG_FORMAT = "[%(levelname)1.1s %(asctime)s.%(msecs)03d %(name)s] %(message)s"  # as Jupyter's
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_EFFECT = "Accepted from jupyter-kernel-gateway 3 config files; has no effect here"

aliases = {
    **base_aliases,
    "ip": "KernelGatewayApp.ip",
    "port": "KernelGatewayApp.port",
    "port_retries": "KernelGatewayApp.port_retries",
    "api": "KernelGatewayApp.api",
    "seed_uri": "KernelGatewayApp.seed_uri",
    "keyfile": "KernelGatewayApp.keyfile",
    "certfile": "KernelGatewayApp.certfile",
    "client-ca": "KernelGatewayApp.client_ca",
    "ssl_version": "KernelGatewayApp.ssl_version",
    "base_url": "KernelGatewayApp.base_url",
    "auth_token": "KernelGatewayApp.auth_token",
    "prespawn_count": "KernelGatewayApp.prespawn_count",
    "allow_origin": "KernelGatewayApp.allow_origin",
    "default_kernel_name": "KernelGatewayApp.default_kernel_name",
    "force_kernel_name": "KernelGatewayApp.force_kernel_name",
    "max_kernels": "KernelGatewayApp.max_kernels",
    "shutdown_grace_period": "KernelGatewayApp.shutdown_grace_period",
    "log_requests": "KernelGatewayApp.log_requests",
}


def option(trait: Any, variable: str) -> Any:
    """Tag a trait as a config option read from `variable` too."""
    return trait.tag(config=True, env=variable)


class KernelGatewayApp(JupyterApp):
    """Jupyter Kernel Gateway: Jupyter kernels as HTTP and websocket services."""

    name = "jupyter-kernelgateway"
    version = __version__
    description = "Provisions Jupyter kernels and serves them over HTTP and websockets."
    aliases = aliases
    flags = base_flags
    examples = """
jupyter kernelgateway --port=8888 --auth_token=secret
    kernels over REST and websockets (the Jupyter server API), for clients that send the token
jupyter kernelgateway --api=notebook-http --seed_uri=etc/api_examples/hello.ipynb
    the notebook's annotated cells (`# GET /hello`) as an HTTP API on http://127.0.0.1:8888

Every option, with its KG_* variable: jupyter kernelgateway --help-all
"""

    ip = option(Unicode("127.0.0.1", help="IP address on which to listen (KG_IP env var)"), "KG_IP")
    port = option(
        Integer(
            8888,
            min=0,
            max=65535,
            help="Port on which to listen, 1-65535; 0 picks a free one (KG_PORT env var)",
        ),
        "KG_PORT",
    )
    port_retries = option(
        Integer(
            50,
            min=0,
            help="Number of further ports to try if the port is in use (KG_PORT_RETRIES env var)",
        ),
        "KG_PORT_RETRIES",
    )
    unix_socket = option(
        Unicode(
            "",
            help="Serve on the unix socket at this path (mode 0600) instead of ip and port, "
            "for a reverse proxy on the same host; removed at exit (KG_UNIX_SOCKET env var)",
        ),
        "KG_UNIX_SOCKET",
    )
    base_url = option(
        Unicode("/", help="The base path for mounting all API resources (KG_BASE_URL env var)"),
        "KG_BASE_URL",
    )
    auth_token = option(
        Unicode("", help="Authorization token required for all requests (KG_AUTH_TOKEN env var)"),
        "KG_AUTH_TOKEN",
    )
    allow_credentials = option(
        Unicode(
            "",
            help="Sets the Access-Control-Allow-Credentials header (KG_ALLOW_CREDENTIALS env var)",
        ),
        "KG_ALLOW_CREDENTIALS",
    )
    allow_headers = option(
        Unicode("", help="Sets the Access-Control-Allow-Headers header (KG_ALLOW_HEADERS env var)"),
        "KG_ALLOW_HEADERS",
    )
    allow_methods = option(
        Unicode("", help="Sets the Access-Control-Allow-Methods header (KG_ALLOW_METHODS env var)"),
        "KG_ALLOW_METHODS",
    )
    allow_origin = option(
        Unicode("", help="Sets the Access-Control-Allow-Origin header (KG_ALLOW_ORIGIN env var)"),
        "KG_ALLOW_ORIGIN",
    )
    expose_headers = option(
        Unicode(
            "", help="Sets the Access-Control-Expose-Headers header (KG_EXPOSE_HEADERS env var)"
        ),
        "KG_EXPOSE_HEADERS",
    )
    max_age = option(
        Unicode("", help="Sets the Access-Control-Max-Age header (KG_MAX_AGE env var)"),
        "KG_MAX_AGE",
    )
    max_kernels = option(
        Integer(
            None,
            allow_none=True,
            min=0,
            help="Limits the number of kernels this gateway runs; unbounded by default "
            "(KG_MAX_KERNELS env var)",
        ),
        "KG_MAX_KERNELS",
    )
    prespawn_count = option(
        Integer(
            None,
            allow_none=True,
            min=0,
            help="Number of kernels to start at start-up with the default kernel; none "
            "by default in jupyter-websocket mode, 1 in notebook-http mode "
            "(KG_PRESPAWN_COUNT env var)",
        ),
        "KG_PRESPAWN_COUNT",
    )
    kernel_pool_size = option(
        Integer(
            0,
            min=0,
            help="jupyter-websocket mode: started kernels kept warm for POST /api/kernels to hand "
            "out at once; 0 disables the pool (KG_KERNEL_POOL_SIZE env var)",
        ),
        "KG_KERNEL_POOL_SIZE",
    )
    default_kernel_name = option(
        Unicode(
            "", help="Default kernel name when spawning a kernel (KG_DEFAULT_KERNEL_NAME env var)"
        ),
        "KG_DEFAULT_KERNEL_NAME",
    )
    force_kernel_name = option(
        Unicode(
            "",
            help="Override any kernel name specified in a notebook or request "
            "(KG_FORCE_KERNEL_NAME env var)",
        ),
        "KG_FORCE_KERNEL_NAME",
    )
    seed_uri = option(
        Unicode(
            None,
            allow_none=True,
            help="Runs the notebook (.ipynb) at the given path or http(s) URL on every kernel "
            "launched; no seed by default (KG_SEED_URI env var)",
        ),
        "KG_SEED_URI",
    )
    api = option(
        Unicode(
            "kernel_gateway.jupyter_websocket",
            help="The API to expose: 'jupyter-websocket' (kernel_gateway.jupyter_websocket), "
            "'notebook-http' (kernel_gateway.notebook_http), or another module that defines "
            "create_personality (KG_API env var)",
        ),
        "KG_API",
    )
    certfile = option(
        Unicode(
            None,
            allow_none=True,
            help="The full path to a TLS certificate file (KG_CERTFILE env var)",
        ),
        "KG_CERTFILE",
    )
    keyfile = option(
        Unicode(
            None,
            allow_none=True,
            help="The full path to a TLS private key file (KG_KEYFILE env var)",
        ),
        "KG_KEYFILE",
    )
    client_ca = option(
        Unicode(
            None,
            allow_none=True,
            help="The full path to a CA certificate for TLS client authentication "
            "(KG_CLIENT_CA env var)",
        ),
        "KG_CLIENT_CA",
    )
    ssl_version = option(
        Integer(
            None,
            allow_none=True,
            min=0,
            help="Deprecated: TLS versions follow Python's defaults (KG_SSL_VERSION env var)",
        ),
        "KG_SSL_VERSION",
    )
    trust_xheaders = option(
        CBool(
            False,
            help="Use X-Real-Ip / X-Forwarded-* headers for the remote address, behind a "
            "proxy (KG_TRUST_XHEADERS env var)",
        ),
        "KG_TRUST_XHEADERS",
    )
    ws_ping_interval = option(
        Integer(
            30,
            min=0,
            help="Seconds between websocket keepalive pings; 0 disables them "
            "(KG_WS_PING_INTERVAL_SECS env var)",
        ),
        "KG_WS_PING_INTERVAL_SECS",
    )
    http_idle_timeout = option(
        Seconds(
            75.0,
            help="Seconds an HTTP connection may sit idle, or take to send a request's "
            "headers, before it is closed (KG_HTTP_IDLE_TIMEOUT env var)",
        ),
        "KG_HTTP_IDLE_TIMEOUT",
    )
    kernel_proxy_ports = option(
        PortRangesTrait(
            "",
            help="jupyter-websocket mode: the ports of a kernel's host that "
            "/api/kernels/<id>/proxy/<port>/ may reach, as a list such as 8000-9999,12000 "
            "(never the kernel's own ZeroMQ ports); empty turns the proxy off "
            "(KG_KERNEL_PROXY_PORTS env var)",
        ),
        "KG_KERNEL_PROXY_PORTS",
    )
    kernel_proxy_timeout = option(
        Seconds(
            30.0,
            help="Seconds the kernel proxy waits for a connection, then for the head of an "
            "answer, before it answers 504 (KG_KERNEL_PROXY_TIMEOUT env var)",
        ),
        "KG_KERNEL_PROXY_TIMEOUT",
    )
    env_process_whitelist = option(
        List(
            Unicode(),
            help="Environment variables of the gateway's own process that kernels "
            "inherit, besides PATH (KG_ENV_PROCESS_WHITELIST env var, comma separated)",
        ),
        "KG_ENV_PROCESS_WHITELIST",
    )
    shutdown_grace_period = option(
        Seconds(
            10.0,
            help="Seconds that in-flight requests get to finish at shutdown "
            "(KG_SHUTDOWN_GRACE_PERIOD env var)",
        ),
        "KG_SHUTDOWN_GRACE_PERIOD",
    )

    log_requests = option(
        CBool(
            False,
            help="Log every request at INFO; by default successful (2xx) requests are logged "
            "at DEBUG only, redirects at INFO, errors at WARNING and ERROR "
            "(KG_LOG_REQUESTS env var)",
        ),
        "KG_LOG_REQUESTS",
    )
    enable_metrics = option(
        CBool(
            True,
            help="Serve Prometheus metrics at /metrics (KG_ENABLE_METRICS env var)",
        ),
        "KG_ENABLE_METRICS",
    )
    metrics_auth = option(
        CBool(
            True,
            help="Require the auth token for /metrics, when there is one; False lets "
            "Prometheus scrape without it (KG_METRICS_AUTH env var)",
        ),
        "KG_METRICS_AUTH",
    )

    log_format = option(
        CaselessStrEnum(
            ["text", "json"],
            "text",
            help="Log lines as text, or as one JSON object per line on stderr "
            "(KG_LOG_FORMAT env var)",
        ),
        "KG_LOG_FORMAT",
    )

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

    # jupyter_server options that jupyter-kernel-gateway 3 exposes and that mean nothing here:
    # accepted so that its config files still load, with one warning each.
    authorizer_class = TraitAny(help=NO_EFFECT).tag(config=True)
    identity_provider_class = TraitAny(help=NO_EFFECT).tag(config=True)
    cookie_secret = TraitAny(help=NO_EFFECT).tag(config=True)
    cookie_secret_file = TraitAny(help=NO_EFFECT).tag(config=True)
    kernel_websocket_connection_class = TraitAny(help=NO_EFFECT).tag(config=True)

    def get_default_logging_config(self) -> dict[str, Any]:
        """Text lines in one format (LOG_FORMAT), or JSON lines (json_logs.py) for json.

        `log_format` is `text` or `json` here (traitlets uses the name for the template)."""
        if self.log_format == "json":
            level = self.log_level
            name = logging.getLevelName(level) if isinstance(level, int) else str(level)
            return json_logging_config(type(self).__name__, name)
        config = super().get_default_logging_config()
        config["formatters"]["console"]["format"] = LOG_FORMAT
        return config

    @default("config_file_name")
    def _config_file_name_default(self) -> str:
        return "jupyter_kernel_gateway_config"

    @validate("base_url")
    def _normalize_base_url(self, proposal: Bunch) -> str:
        """`api2`, `/api2` and `/api2/` all mean `/api2/`: one leading and one trailing slash."""
        path = str(proposal["value"]).strip("/")
        return f"/{path}/" if path else "/"

    @default("log_datefmt")
    def _log_datefmt_default(self) -> str:
        return LOG_DATE_FORMAT

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
        self.adopt_library_logs()
        self.personality = self.create_personality()
        for warning in risky_settings(
            self.ip, self.unix_socket, self.auth_token, self.allow_origin, self.allow_credentials
        ):
            self.log.warning("%s", warning)

    def check_kernel_counts(self) -> None:
        """Refuse a prespawn_count over max_kernels before any kernel starts."""
        prespawn, limit = self.prespawn_count, self.max_kernels
        if prespawn is not None and limit is not None and prespawn > limit:
            raise StartupError(
                f"prespawn_count ({prespawn}) must be at most max_kernels ({limit}): "
                "lower KG_PRESPAWN_COUNT or raise KG_MAX_KERNELS"
            )

    def adopt_library_logs(self) -> None:
        """Send the lines of tornado (errors in handlers, bad requests) and of the package's
        own module loggers through the app's logger, so every line has the same format and
        level; left alone they'd reach Python's last-resort handler, warnings only."""
        for name in ("tornado", "kernel_gateway"):
            library_log = logging.getLogger(name)
            library_log.parent = self.log  # type: ignore[assignment]
            library_log.propagate = True

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
        return self.api_module().create_personality(context=context, parent=self, log=self.log)

    def api_module(self) -> ModuleType:
        """The personality module that `api` names; StartupError for an unknown one."""
        module_name = API_MODULES.get(self.api, self.api)
        valid = ", ".join([*API_MODULES, *API_MODULES.values()])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and module_name != err.name and not module_name.startswith(err.name + "."):
                raise StartupError(f"Cannot import api module {module_name}: {err}") from err
            raise StartupError(f"Unknown api {self.api!r}; valid values: {valid}") from err
        except ImportError as err:
            raise StartupError(f"Cannot import api module {module_name}: {err}") from err
        except (ValueError, TypeError) as err:  # an empty or relative module name
            raise StartupError(f"Unknown api {self.api!r}; valid values: {valid}") from err
        if not hasattr(module, "create_personality"):
            raise StartupError(f"Module {module_name} does not define create_personality")
        return module

    def access_policy(self) -> AccessPolicy:
        return AccessPolicy(
            auth_token=self.auth_token,
            allow_origin=self.allow_origin,
            allow_credentials=self.allow_credentials,
            allow_headers=self.allow_headers,
            allow_methods=self.allow_methods,
            expose_headers=self.expose_headers,
            max_age=self.max_age,
        )

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
            routes = [(prefix + pattern, *rest) for pattern, *rest in routes]  # type: ignore[misc]
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
        sockets, port = self.bind()
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

    def bind(self) -> tuple[list[socket.socket], int]:
        """The listening sockets and their port (0 for a unix socket)."""
        if self.unix_socket:
            return [serving.bind_unix(self.unix_socket)], 0
        sockets, port = serving.bind(self.ip, self.port, self.port_retries)
        skipped = serving.skipped_ports(self.port, port, self.port_retries)
        if skipped:
            self.log.warning("%s", skipped)
        return sockets, port

    def log_serving(self, port: int) -> None:
        """The listening line (and a local URL when listening on every interface), then what
        the mode serves there."""
        if self.unix_socket:
            self.log_serving_unix()
            return
        scheme = "https" if self.certfile else "http"
        host = f"[{self.ip}]" if ":" in self.ip else self.ip or "0.0.0.0"
        self.log.info(
            "Jupyter Kernel Gateway %s (%s mode) at %s://%s:%d%s",
            __version__,
            self.personality.mode_name,
            scheme,
            host,
            port,
            self.base_url,
        )
        if self.ip in ANY_ADDRESS:
            host = "127.0.0.1"
            self.log.info(
                "Listening on every interface; locally: %s://%s:%d%s",
                scheme,
                host,
                port,
                self.base_url,
            )
        url = f"{scheme}://{host}:{port}{self.base_url[:-1]}"
        for line in [*self.personality.summary(url), self.operations_summary(url)]:
            self.log.info("%s", line)

    def operations_summary(self, url: str) -> str:
        """Where the probes (and the metrics, when on) are."""
        probes = f"Health: {url}/healthz, readiness: {url}/readyz"
        return f"{probes}, metrics: {url}/metrics" if self.enable_metrics else probes

    def log_serving_unix(self) -> None:
        """The listening line on a unix socket, then what the mode serves (by path)."""
        self.log.info(
            "Jupyter Kernel Gateway %s (%s mode) at unix socket %s (base URL %s)",
            __version__,
            self.personality.mode_name,
            self.unix_socket,
            self.base_url,
        )
        url = self.base_url[:-1]
        for line in [*self.personality.summary(url), self.operations_summary(url)]:
            self.log.info("%s", line)

    async def drain(self, server: HTTPServer, tracker: serving.RequestTracker) -> None:
        """Stop accepting, let requests in flight finish (up to the grace period), close all."""
        self.log.info("Shutting down: waiting for %d request(s) in flight", tracker.active)
        server.stop()
        tracker.closing = True
        if not await tracker.wait_idle(self.shutdown_grace_period):
            self.log.warning(
                "%d request(s) still running after %ss; answering them 503",
                tracker.active,
                self.shutdown_grace_period,
            )
            await tracker.abandon_all()
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
