"""The gateway's server options: listening, TLS, CORS, HTTP limits, shutdown, logs, metrics.

Each option is a trait tagged with its `KG_*` variable (config.py reads it). `KernelGatewayApp`
inherits these traits, so they are configured as `KernelGatewayApp.<name>` (command line, config
file) and listed under it by `--help-all`.
"""

from __future__ import annotations

from typing import Any

from jupyter_core.application import base_aliases
from traitlets import Bunch, CaselessStrEnum, CBool, HasTraits, Integer, Unicode, validate

from .base.handlers import AccessPolicy
from .config import Seconds

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

EXAMPLES = """
jupyter kernelgateway --port=8888 --auth_token=secret
    kernels over REST and websockets (the Jupyter server API), for clients that send the token
jupyter kernelgateway --api=notebook-http --seed_uri=etc/api_examples/hello.ipynb
    the notebook's annotated cells (`# GET /hello`) as an HTTP API on http://127.0.0.1:8888

Every option, with its KG_* variable: jupyter kernelgateway --help-all
"""


def option(trait: Any, variable: str) -> Any:
    """Tag a trait as a config option read from `variable` too."""
    return trait.tag(config=True, env=variable)


class ServerOptions(HasTraits):
    """Where and how the gateway listens, answers and logs: traits of `KernelGatewayApp`."""

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

    @validate("base_url")
    def _normalize_base_url(self, proposal: Bunch) -> str:
        """`api2`, `/api2` and `/api2/` all mean `/api2/`: one leading and one trailing slash."""
        path = str(proposal["value"]).strip("/")
        return f"/{path}/" if path else "/"

    def access_policy(self) -> AccessPolicy:
        """The token and CORS options, as the handlers check them."""
        return AccessPolicy(
            auth_token=self.auth_token,
            allow_origin=self.allow_origin,
            allow_credentials=self.allow_credentials,
            allow_headers=self.allow_headers,
            allow_methods=self.allow_methods,
            expose_headers=self.expose_headers,
            max_age=self.max_age,
        )
