"""How the app logs: one line format, library loggers adopted, and the lines saying where it
serves once it has started."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ._version import __version__
from .operations.json_logs import json_logging_config
from .personality import Personality

ANY_ADDRESS = ("", "0.0.0.0", "::")
LOG_FORMAT = "[%(levelname)1.1s %(asctime)s.%(msecs)03d %(name)s] %(message)s"  # as Jupyter's
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def json_config(app_name: str, level: object) -> dict[str, Any]:
    """The logging config of JSON lines (json_logs.py) at `level`."""
    name = logging.getLevelName(level) if isinstance(level, int) else str(level)
    return json_logging_config(app_name, name)


def text_config(config: dict[str, Any]) -> dict[str, Any]:
    """traitlets' default logging `config`, its lines in LOG_FORMAT."""
    config["formatters"]["console"]["format"] = LOG_FORMAT
    return config


def adopt_library_logs(log: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """Send the lines of tornado (errors in handlers, bad requests) and of the package's
    own module loggers through the app's logger, so every line has the same format and
    level; left alone they'd reach Python's last-resort handler, warnings only."""
    for name in ("tornado", "kernel_gateway"):
        library_log = logging.getLogger(name)
        library_log.parent = log  # type: ignore[assignment]
        library_log.propagate = True


@dataclass(frozen=True)
class Listening:
    """Where the gateway listens: `ip` and `port`, or `unix_socket` when set."""

    ip: str
    port: int
    unix_socket: str
    tls: bool
    base_url: str
    enable_metrics: bool


def log_serving(log: Any, personality: Personality, where: Listening) -> None:
    """The listening line (and a local URL when listening on every interface), then what
    the mode serves there."""
    if where.unix_socket:
        log_serving_unix(log, personality, where)
        return
    scheme = "https" if where.tls else "http"
    host = f"[{where.ip}]" if ":" in where.ip else where.ip or "0.0.0.0"
    log.info(
        "Jupyter Kernel Gateway %s (%s mode) at %s://%s:%d%s",
        __version__,
        personality.mode_name,
        scheme,
        host,
        where.port,
        where.base_url,
    )
    if where.ip in ANY_ADDRESS:
        host = "127.0.0.1"
        log.info(
            "Listening on every interface; locally: %s://%s:%d%s",
            scheme,
            host,
            where.port,
            where.base_url,
        )
    url = f"{scheme}://{host}:{where.port}{where.base_url[:-1]}"
    for line in [*personality.summary(url), operations_summary(url, where.enable_metrics)]:
        log.info("%s", line)


def operations_summary(url: str, enable_metrics: bool) -> str:
    """Where the probes (and the metrics, when on) are."""
    probes = f"Health: {url}/healthz, readiness: {url}/readyz"
    return f"{probes}, metrics: {url}/metrics" if enable_metrics else probes


def log_serving_unix(log: Any, personality: Personality, where: Listening) -> None:
    """The listening line on a unix socket, then what the mode serves (by path)."""
    log.info(
        "Jupyter Kernel Gateway %s (%s mode) at unix socket %s (base URL %s)",
        __version__,
        personality.mode_name,
        where.unix_socket,
        where.base_url,
    )
    url = where.base_url[:-1]
    for line in [*personality.summary(url), operations_summary(url, where.enable_metrics)]:
        log.info("%s", line)
