"""KernelProxyHandler: `/api/kernels/:id/proxy/:port/...` forwarded to a server a kernel runs.

The host is the kernel's own, from its connection info, so a remote kernel's servers are reached
where the kernel runs; the port must be among `kernel_proxy_ports` and not one of the kernel's
ZeroMQ ports. An empty `kernel_proxy_ports` (the default) turns the proxy off: every request is a
403 saying how to turn it on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..base.handlers import AccessPolicy
from ..base.proxy import ProxyHandler
from ..base.websocket import OpenWebSockets
from ..errors import Forbidden
from ..services.kernels.manager import MappingKernelManager
from ..services.proxy import PortRanges, Upstream
from ..services.proxy.upstream import kernel_host
from ..serving import RequestTracker

ZMQ_PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
PREFIX = re.compile(r"(.*?/api/kernels/[^/]+/proxy/\d+)(?:/.*)?")
ENABLE_HINT = (
    "set KG_KERNEL_PROXY_PORTS (--KernelGatewayApp.kernel_proxy_ports) to the ports it may "
    "reach, e.g. 8000-9999"
)


@dataclass(frozen=True)
class KernelProxyOptions:
    """Which ports of a kernel's host the proxy reaches, and how long it waits for an answer."""

    ports: PortRanges = field(default_factory=PortRanges)
    timeout: float = 30.0


def check_port(port: int, info: Mapping[str, Any], ports: PortRanges) -> None:
    """Raise Forbidden unless the proxy may reach `port` of the kernel described by `info`."""
    if port not in ports:
        raise Forbidden(f"Port {port} is not among the kernel proxy's ports ({ports})")
    if port in {info.get(name) for name in ZMQ_PORTS}:
        raise Forbidden(f"Port {port} is one of the kernel's own ZeroMQ ports")


class KernelProxyHandler(ProxyHandler):
    """HTTP and websockets to a port on a kernel's host."""

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        tracker: RequestTracker | None = None,
        *,
        kernel_manager: MappingKernelManager,
        proxy: KernelProxyOptions,
        websockets: OpenWebSockets,
        **_: Any,
    ) -> None:
        super().initialize(policy, tracker, proxy.timeout, websockets)
        self.kernel_manager = kernel_manager
        self.proxy_options = proxy

    async def resolve(self) -> tuple[Upstream, str]:
        """The kernel's host and the port asked for; 403 when off or refused, 404 unknown."""
        ports = self.proxy_options.ports
        if not ports:
            raise Forbidden(f"The kernel proxy is off: {ENABLE_HINT}")
        kernel_id, port = self.path_kwargs["kernel_id"], int(self.path_kwargs["port"])
        kernel = self.kernel_manager.get(kernel_id)  # UnknownKernel for any other id
        info = kernel.km.get_connection_info()
        check_port(port, info, ports)
        prefix = PREFIX.fullmatch(self.request.path)
        assert prefix is not None, "the route's pattern matched this path"
        return Upstream(kernel_host(info), port), prefix.group(1)
