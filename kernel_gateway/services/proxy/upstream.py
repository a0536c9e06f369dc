"""Where a proxy sends requests: a host and port, or a unix socket path."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tornado.netutil import Resolver

ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "::": "::1"}


class AddressResolver(Resolver):
    """Resolves an IP address to itself at once (tornado's default asks a thread pool)."""

    async def resolve(  # type: ignore[override]
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        address = ipaddress.ip_address(host)
        if address.version == 6:
            return [(socket.AF_INET6, (host, port, 0, 0))]
        return [(socket.AF_INET, (host, port))]


class UnixSocketResolver(Resolver):
    """Resolves every name to one unix socket path, so tornado's TCP client connects there."""

    def initialize(self, path: str) -> None:  # type: ignore[override]
        self.path = path

    async def resolve(  # type: ignore[override]
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        return [(socket.AF_UNIX, self.path)]


@dataclass(frozen=True)
class Upstream:
    """A server behind the proxy: `host`:`port`, or the unix socket at `socket_path`."""

    host: str = "127.0.0.1"
    port: int = 80
    socket_path: str = ""

    @property
    def authority(self) -> str:
        """The Host header the upstream server gets (`localhost` for a unix socket)."""
        if self.socket_path:
            return "localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def describe(self) -> str:
        """The upstream for error messages."""
        return f"unix:{self.socket_path}" if self.socket_path else self.authority

    def url(self, scheme: str, target: str) -> str:
        """An absolute URL of `target` (path and query) on this upstream."""
        return f"{scheme}://{self.authority}{target}"

    def resolver(self) -> Resolver | None:
        """The resolver that reaches this upstream; None for a host name (tornado's default)."""
        if self.socket_path:
            return UnixSocketResolver(path=self.socket_path)
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return None
        return AddressResolver()


def why(error: BaseException) -> str:
    """What went wrong connecting, in words: "Connection refused" rather than tornado's
    "Stream is closed" around it."""
    error = getattr(error, "real_error", None) or error
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def kernel_host(info: Mapping[str, Any]) -> str:
    """The address of the host a kernel runs on, from its connection info."""
    if info.get("transport", "tcp") != "tcp":
        return "127.0.0.1"  # ipc: the kernel runs beside the gateway
    ip = str(info.get("ip", ""))
    return ANY_ADDRESS.get(ip, ip)
