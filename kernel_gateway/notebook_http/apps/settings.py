"""An app's own settings, read from its notebook's `metadata.kernel_gateway`.

    {"kernel_gateway": {"prespawn_count": 2, "request_timeout": 5, "max_queue_wait": 1,
                        "idle_stop": 300}}
    {"kernel_gateway": {"serve": {"port": "auto", "health": "/healthz"}}}

`serve` makes the app a served app: its seed cells start a web server, which the gateway
proxies (served.py); `{"socket": "auto"}` asks for a unix socket instead of a port.

Any other key, or a value of the wrong kind, is an error naming the key: the app is marked
failed (or its deploy refused) and the other apps serve on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...errors import StartupError

MAX_POOL_SIZE = 64
SERVE_KEYS = ("port", "socket", "health")


@dataclass(frozen=True)
class ServeSpec:
    """How a served app's server is reached: a free port or a unix socket the gateway picks,
    and the path its health probe asks for."""

    transport: str = "port"  # or "socket"
    health: str = "/"


@dataclass(frozen=True)
class AppSettings:
    """How one app's pool and requests behave."""

    pool_size: int = 1
    request_timeout: float = 0.0
    max_queue_wait: float = 0.0
    idle_stop: float = 0.0
    serve: ServeSpec | None = None  # None: an app of annotated endpoint cells


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_POOL_SIZE:
        raise StartupError(
            f"metadata.kernel_gateway.{key} must be an integer from 1 to {MAX_POOL_SIZE}, "
            f"not {value!r}"
        )
    return value


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise StartupError(
            f"metadata.kernel_gateway.{key} must be a number of seconds >= 0, not {value!r}"
        )
    return float(value)


def _serve(key: str, value: Any) -> ServeSpec:
    where = f"metadata.kernel_gateway.{key}"
    if not isinstance(value, dict):
        raise StartupError(f'{where} must be an object such as {{"port": "auto"}}, not {value!r}')
    unknown = sorted(set(value) - set(SERVE_KEYS))
    if unknown:
        raise StartupError(f"{where}.{unknown[0]} is not a setting; known: port, socket, health")
    transports = [name for name in ("port", "socket") if name in value]
    if len(transports) != 1 or value[transports[0]] != "auto":
        raise StartupError(f'{where} must hold "port": "auto" or "socket": "auto"')
    health = value.get("health", "/")
    if (
        not isinstance(health, str)
        or not health.startswith("/")
        or any(char in health for char in " \r\n")
    ):
        raise StartupError(f"{where}.health must be a path starting with /, not {health!r}")
    return ServeSpec(transports[0], health)


_FIELDS = {
    "prespawn_count": ("pool_size", _count),
    "request_timeout": ("request_timeout", _seconds),
    "max_queue_wait": ("max_queue_wait", _seconds),
    "idle_stop": ("idle_stop", _seconds),
    "serve": ("serve", _serve),
}


def read_settings(metadata: Mapping[str, Any], defaults: AppSettings) -> AppSettings:
    """`defaults` with what the notebook metadata's `kernel_gateway` object sets.

    Raises StartupError naming the first unknown key or bad value.
    """
    section = metadata.get("kernel_gateway", {})
    if not isinstance(section, dict):
        raise StartupError("metadata.kernel_gateway must be an object")
    changes: dict[str, Any] = {}
    for key, value in section.items():
        if key not in _FIELDS:
            known = ", ".join(_FIELDS)
            raise StartupError(f"metadata.kernel_gateway.{key} is not a setting; known: {known}")
        field, parse = _FIELDS[key]
        changes[field] = parse(key, value)
    if "serve" in changes and changes.get("pool_size", 1) != 1:
        raise StartupError(
            "metadata.kernel_gateway.prespawn_count must be 1 for a served app: its server "
            "listens on one address"
        )
    return replace(defaults, **changes)
