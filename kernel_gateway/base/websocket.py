"""GatewayWebSocketHandler: the gateway's access checks, CORS and JSON errors on routes that
upgrade to websockets (tornado's `WebSocketHandler` is not a `GatewayHandler`)."""

from __future__ import annotations

import logging
from typing import Any

from tornado.websocket import WebSocketHandler

from ..errors import GatewayError
from ..operations.request_ids import HEADER, current_request_id, request_id
from .handlers import AccessPolicy, check_access, set_cors_headers, write_json_error

log = logging.getLogger(__name__)
GOING_AWAY = 1001


class OpenWebSockets:
    """The open websockets of some routes, so that the mode's `stop` can close them."""

    def __init__(self) -> None:
        self._open: set[WebSocketHandler] = set()

    def add(self, handler: WebSocketHandler) -> None:
        self._open.add(handler)

    def discard(self, handler: WebSocketHandler) -> None:
        self._open.discard(handler)

    def close_all(self) -> None:
        """Close every one with 1001 (the gateway is stopping)."""
        for handler in list(self._open):
            handler.close(GOING_AWAY, "The gateway is shutting down")
        self._open.clear()


class GatewayWebSocketHandler(WebSocketHandler):
    """Base of the websocket handlers: token, origin and URI checks, CORS, OPTIONS, JSON errors."""

    policy: AccessPolicy
    _request_id = ""

    def initialize(self, policy: AccessPolicy, **_: Any) -> None:
        """Subclasses take their own collaborators and pass the policy here."""
        self.policy = policy
        set_cors_headers(self, policy)

    @property
    def request_id(self) -> str:
        """The client's sane X-Request-Id, or a new one (as for every gateway handler)."""
        if not self._request_id:
            self._request_id = request_id(self.request.headers.get(HEADER))
        return self._request_id

    def prepare(self) -> Any:
        current_request_id.set(self.request_id)
        if not self.is_preflight():
            check_access(self.request, self.policy)

    def is_preflight(self) -> bool:
        """True for a request answered without a token: OPTIONS (CORS preflight)."""
        return self.request.method == "OPTIONS"

    def set_default_headers(self) -> None:
        policy = getattr(self, "policy", None)
        if policy is not None:
            set_cors_headers(self, policy)
        self.set_header(HEADER, self.request_id)

    def options(self, *args: str, **kwargs: str) -> Any:
        """Answer CORS preflight requests, with no token needed."""
        self.set_status(204)
        self.finish()

    def check_origin(self, origin: str) -> bool:
        """Origins were checked against the access policy in `prepare`."""
        return True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON `{"reason", "message"}` like every other handler, for a refused upgrade."""
        write_json_error(self, status_code, kwargs.get("exc_info", (None, None, None))[1])

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, GatewayError):  # why, at DEBUG: the access line says the rest
            log.debug("%d %s: %s", value.status_code, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)
