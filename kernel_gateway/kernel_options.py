"""The gateway's kernel options: limits, prespawn and pool, names, seed, api, kernel proxy.

Traits of `KernelGatewayApp` (configured as `KernelGatewayApp.<name>`), each tagged with its
`KG_*` variable; also the jupyter-kernel-gateway 3 options accepted without effect.
"""

from __future__ import annotations

from traitlets import Any as TraitAny
from traitlets import HasTraits, Integer, List, Unicode

from .config import Seconds
from .errors import StartupError
from .options import option
from .services.proxy import PortRangesTrait

NO_EFFECT = "Accepted from jupyter-kernel-gateway 3 config files; has no effect here"

#: jupyter_server options of jupyter-kernel-gateway 3 -> why they have no effect here.
UNUSED_SERVER_OPTIONS = {
    "authorizer_class": "access is decided by auth_token and the CORS/origin options",
    "identity_provider_class": "clients have no identity beyond the token",
    "cookie_secret": "the gateway issues no cookies",
    "cookie_secret_file": "the gateway issues no cookies",
    "kernel_websocket_connection_class": "the websocket bridge is built in",
}


class KernelOptions(HasTraits):
    """Which kernels the gateway starts, how many, and what they may reach."""

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

    def check_kernel_counts(self) -> None:
        """Refuse a prespawn_count over max_kernels before any kernel starts."""
        prespawn, limit = self.prespawn_count, self.max_kernels
        if prespawn is not None and limit is not None and prespawn > limit:
            raise StartupError(
                f"prespawn_count ({prespawn}) must be at most max_kernels ({limit}): "
                "lower KG_PRESPAWN_COUNT or raise KG_MAX_KERNELS"
            )

    # jupyter_server options that jupyter-kernel-gateway 3 exposes and that mean nothing here:
    # accepted so that its config files still load, with one warning each.
    authorizer_class = TraitAny(help=NO_EFFECT).tag(config=True)
    identity_provider_class = TraitAny(help=NO_EFFECT).tag(config=True)
    cookie_secret = TraitAny(help=NO_EFFECT).tag(config=True)
    cookie_secret_file = TraitAny(help=NO_EFFECT).tag(config=True)
    kernel_websocket_connection_class = TraitAny(help=NO_EFFECT).tag(config=True)
