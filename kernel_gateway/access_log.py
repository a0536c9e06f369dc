"""The access log: one line per finished HTTP request, through the app's own logger.

Tornado calls `AccessLog` (its `log_function`) once per request. The line is built by one
function from an `AccessEntry`, and the entry rides on the log record (`record.access`), so a
structured formatter (JSON logs) can write its fields instead of the text. Successful answers
are logged at DEBUG, or at INFO with `log_requests`; redirects at INFO, client errors at
WARNING, server errors at ERROR; a handler with `quiet_access_log` (the probes) at DEBUG
whatever its status. A `token` query parameter never reaches the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from tornado import web

QUERY_SEPARATORS = re.compile(r"([&;])")


@dataclass(frozen=True)
class AccessEntry:
    """What the access log says about one request."""

    status: int
    method: str
    uri: str  # with any token masked
    remote_ip: str
    millis: float
    request_id: str = ""  # the X-Request-Id answered
    kernel_id: str = ""  # the kernel named in the path, or that served a notebook endpoint
    app: str = ""  # notebook-http: the app and route pattern of the endpoint
    endpoint: str = ""

    def fields(self) -> dict[str, Any]:
        """The entry as structured log fields (JSON logs): those it has, by name."""
        fields: dict[str, Any] = {
            "method": self.method,
            "path": self.uri,
            "status": self.status,
            "duration_ms": round(self.millis, 2),
        }
        optional = ("request_id", "kernel_id", "app", "endpoint")
        fields.update({name: getattr(self, name) for name in optional if getattr(self, name)})
        return fields


def redacted_uri(uri: str) -> str:
    """The request URI with the value of any query parameter named `token` masked, for logs.

    Names are compared as the server reads them (percent-decoded, `+` as space) and in any
    case; `;` counts as a separator too, so no spelling of the token reaches a log.
    """
    path, question, query = uri.partition("?")
    if not question:
        return uri
    pieces = QUERY_SEPARATORS.split(query)
    for index in range(0, len(pieces), 2):  # odd indexes are the separators themselves
        name, equals, _ = pieces[index].partition("=")
        if equals and unquote_plus(name).strip().lower() == "token":
            pieces[index] = f"{name}=[secret]"
    return f"{path}?{''.join(pieces)}"


def access_entry(handler: web.RequestHandler) -> AccessEntry:
    """The access-log entry of a finished request.

    The request id, kernel, app and endpoint are read from what the gateway's handlers
    expose (`request_id`, the `kernel_id` path argument, `endpoint_record`), when they do.
    """
    request = handler.request
    record = getattr(handler, "endpoint_record", None)
    path_kwargs = getattr(handler, "path_kwargs", None) or {}  # unset if the path didn't decode
    return AccessEntry(
        status=handler.get_status(),
        method=request.method or "",
        uri=redacted_uri(request.uri or ""),
        remote_ip=request.remote_ip or "",
        millis=1000.0 * request.request_time(),
        request_id=getattr(handler, "request_id", ""),
        kernel_id=path_kwargs.get("kernel_id") or getattr(record, "kernel_id", None) or "",
        app=getattr(record, "app", ""),
        endpoint=getattr(record, "endpoint", ""),
    )


def format_access(entry: AccessEntry) -> str:
    """The text of an access line: `200 GET /hello (127.0.0.1) 4.21ms`."""
    return f"{entry.status} {entry.method} {entry.uri} ({entry.remote_ip}) {entry.millis:.2f}ms"


def access_level(status: int, log_requests: bool) -> int:
    """The level of a request's line: by status class, 2xx at INFO only with log_requests."""
    if status < 300:
        return logging.INFO if log_requests else logging.DEBUG
    if status < 400:
        return logging.INFO
    return logging.WARNING if status < 500 else logging.ERROR


class AccessLog:
    """Tornado's `log_function`: one line per request through `log`."""

    def __init__(
        self,
        log: logging.Logger | logging.LoggerAdapter[Any],
        log_requests: bool = False,
        format_line: Callable[[AccessEntry], str] = format_access,
    ) -> None:
        self.log = log
        self.log_requests = log_requests
        self.format_line = format_line

    def __call__(self, handler: web.RequestHandler) -> None:
        if getattr(handler, "quiet_access_log", False):  # probes: their 503s are no errors
            level = logging.DEBUG
        else:
            level = access_level(handler.get_status(), self.log_requests)
        if not self.log.isEnabledFor(level):
            return
        entry = access_entry(handler)
        self.log.log(level, "%s", self.format_line(entry), extra={"access": entry})
