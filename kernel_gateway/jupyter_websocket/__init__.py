"""jupyter-websocket mode: Jupyter-server-compatible kernel REST API and websocket bridge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from traitlets import Bool, List, Unicode

from ..base.api_page import api_page_routes
from ..base.websocket import OpenWebSockets
from ..personality import GatewayContext, Personality, Route
from ..seed import cell_positions, code_cells
from ..services.kernels.launch import start_up
from ..services.kernels.policy import chosen_kernel_name
from ..services.sessions import SessionManager
from .channels import ChannelsHandler
from .handlers import (
    APIDocumentHandler,
    KernelActionHandler,
    KernelHandler,
    KernelsHandler,
    ModeOptions,
    SessionHandler,
    SessionsHandler,
)
from .hub import KernelHubs
from .kernel_proxy import KernelProxyHandler, KernelProxyOptions
from .kernelspecs import KernelSpecHandler, KernelSpecResourceHandler, KernelSpecsHandler
from .swagger import JSON_TYPE, YAML_TYPE, as_json, as_yaml

KERNEL_ID = r"(?P<kernel_id>[^/]+)"
SESSION_ID = r"(?P<session_id>[^/]+)"
SPEC_NAME = r"(?P<name>[^/]+)"
PROXY_PORT = r"(?P<port>\d+)"


class JupyterWebsocketPersonality(Personality):
    """Kernels, sessions and kernel specs over REST; kernel messages over websockets."""

    mode_name = "jupyter-websocket"

    list_kernels = Bool(
        False,
        help="Permits listing the running kernels and sessions at /api/kernels and "
        "/api/sessions (KG_LIST_KERNELS env var). Jupyter servers allow it by default; "
        "the gateway does not.",
    ).tag(config=True, env="KG_LIST_KERNELS")
    env_whitelist = List(
        Unicode(),
        help="Environment variables a client may set when it starts a kernel, besides KERNEL_* "
        "(KG_ENV_WHITELIST env var, comma separated)",
    ).tag(config=True, env="KG_ENV_WHITELIST")

    def __init__(self, context: GatewayContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        manager = context.kernel_manager
        if context.seed_notebook is not None:
            seeds = code_cells(context.seed_notebook)
            positions = cell_positions(context.seed_notebook, seeds)
            manager.policy = replace(manager.policy, seed_cells=seeds, seed_positions=positions)
        self.sessions = SessionManager(manager)
        self.hubs = KernelHubs()
        self.proxied = OpenWebSockets()
        self._unsubscribe: Callable[[], None] = lambda: None

    def handlers(self) -> list[Route]:
        manager = self.context.kernel_manager
        api = {
            "kernel_manager": manager,
            "sessions": self.sessions,
            "hubs": self.hubs,
            "mode": ModeOptions(self.list_kernels, tuple(self.env_whitelist)),
        }
        specs = {
            "kernel_spec_manager": manager.kernel_spec_manager,
            "default_kernel_name": chosen_kernel_name(
                manager.policy, None, manager.default_kernel_name
            ),
        }
        ws = {"kernel_manager": manager, "hubs": self.hubs}
        proxy = {
            "kernel_manager": manager,
            "proxy": KernelProxyOptions(
                self.context.kernel_proxy_ports, self.context.kernel_proxy_timeout
            ),
            "websockets": self.proxied,
        }
        return [
            (r"/api/kernelspecs/?", KernelSpecsHandler, specs),
            (rf"/api/kernelspecs/{SPEC_NAME}/?", KernelSpecHandler, specs),
            (rf"/kernelspecs/{SPEC_NAME}/(?P<filename>.+)", KernelSpecResourceHandler, specs),
            (r"/api/kernels/?", KernelsHandler, api),
            (rf"/api/kernels/{KERNEL_ID}/?", KernelHandler, api),
            (
                rf"/api/kernels/{KERNEL_ID}/(?P<action>interrupt|restart)/?",
                KernelActionHandler,
                api,
            ),
            (rf"/api/kernels/{KERNEL_ID}/channels", ChannelsHandler, ws),
            (
                rf"/api/kernels/{KERNEL_ID}/proxy/{PROXY_PORT}(?P<path>/.*)?",
                KernelProxyHandler,
                proxy,
            ),
            (r"/api/sessions/?", SessionsHandler, api),
            (rf"/api/sessions/{SESSION_ID}/?", SessionHandler, api),
            (
                r"/api/swagger\.json",
                APIDocumentHandler,
                {"renderer": as_json, "content_type": JSON_TYPE},
            ),
            (
                r"/api/swagger\.yaml",
                APIDocumentHandler,
                {"renderer": as_yaml, "content_type": YAML_TYPE},
            ),
            *api_page_routes("/api/docs", "/api/swagger.json", "Jupyter Kernel Gateway"),
        ]

    def summary(self, url: str) -> list[str]:
        """Where the kernels API and its description are."""
        return [
            f"Kernels API: {url}/api/kernels; websockets at {url}/api/kernels/<id>/channels",
            f"API document: {url}/api/swagger.json (also .yaml); API page: {url}/api/docs",
        ]

    def missing(self) -> list[str]:
        """With a warm pool, not ready while max_kernels leaves no room for another kernel
        (a warm kernel is handed out only within the limit)."""
        manager = self.context.kernel_manager
        limit = manager.policy.max_kernels
        if manager.warm_pool is None or limit is None or manager.kernel_count() < limit:
            return []
        return ["kernel_limit"]

    async def start(self) -> None:
        """Start `prespawn_count` kernels, then fill the warm pool; StartupError if any fails."""
        manager = self.context.kernel_manager
        self._unsubscribe = manager.events.subscribe(self.hubs.on_event)
        count = self.context.prespawn_count or 0
        with start_up("A kernel"):
            await asyncio.gather(*(manager.start_kernel() for _ in range(count)))
            await manager.start_warm_pool(self.context.kernel_pool_size)
            manager.start_culling()

    async def stop(self) -> None:
        """Close every websocket; the app shuts the kernels down afterwards."""
        self.hubs.close_all()
        self.proxied.close_all()
        self._unsubscribe()


def create_personality(context: GatewayContext, **kwargs: Any) -> JupyterWebsocketPersonality:
    """The app's entry point into this mode."""
    return JupyterWebsocketPersonality(context, **kwargs)
