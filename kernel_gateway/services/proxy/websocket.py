"""Websocket forwarding: a client's websocket bridged to one the proxy opens upstream.

Messages go both ways as they are (text stays text, binary stays binary), each awaited before
the next is read, so a slow side slows the other down. The subprotocol the upstream selects is
the one the client gets; a close on either side closes the other with the same code and reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Protocol

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httputil import HTTPHeaders
from tornado.iostream import StreamClosedError
from tornado.websocket import (
    WebSocketClientConnection,
    WebSocketClosedError,
    WebSocketError,
    websocket_connect,
)

from ...errors import UpstreamError, UpstreamTimeout
from .upstream import Upstream, why

MAX_MESSAGE_SIZE = 10 * 1024 * 1024  # tornado's default, on both legs
TIMEOUT_STATUS = 599  # tornado's HTTP client reports its own timeouts so
MAX_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 for the code
log = logging.getLogger(__name__)


class MessageSink(Protocol):
    """The client's end of a bridge: the gateway's websocket handler."""

    def write_message(self, message: str | bytes, binary: bool = False) -> Awaitable[None]:
        """Send one message; raises WebSocketClosedError once closed."""

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close with a code and reason."""


def wire_code(code: int | None) -> int | None:
    """`code` if a close frame may carry it (RFC 6455 section 7.4), else None (no code)."""
    if code is None:
        return None
    sendable = 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999
    return code if sendable else None


def short_reason(reason: str | None) -> str | None:
    """A close reason cut to what a close frame holds."""
    if reason is None:
        return None
    return reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


async def connect_websocket(
    upstream: Upstream,
    target: str,
    headers: HTTPHeaders,
    subprotocols: list[str],
    timeout: float,
) -> WebSocketBridge:
    """Open the upstream websocket at `target` (path and query), offering `subprotocols`.

    Raises UpstreamError (nothing listening, or no websocket there) or UpstreamTimeout.
    """
    where = upstream.describe()
    request = HTTPRequest(
        upstream.url("ws", target),
        headers=headers,
        connect_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        connection = await websocket_connect(
            request,
            subprotocols=subprotocols or None,
            resolver=upstream.resolver(),
            max_message_size=MAX_MESSAGE_SIZE,
        )
    except HTTPClientError as err:
        if err.code == TIMEOUT_STATUS:
            raise UpstreamTimeout(f"{where} did not answer within {timeout:g} s") from err
        raise UpstreamError(f"{where} answered {err.code} instead of a websocket") from err
    except asyncio.TimeoutError as err:  # not the builtin one before Python 3.11
        raise UpstreamTimeout(f"{where} did not answer within {timeout:g} s") from err
    except (OSError, StreamClosedError) as err:
        raise UpstreamError(f"Nothing answers at {where}: {why(err)}") from err
    except WebSocketClosedError as err:
        raise UpstreamError(f"{where} closed the websocket handshake") from err
    except WebSocketError as err:  # an answer other than 101 that tornado can't read as one
        raise UpstreamError(f"{where} answered without a websocket: {err}") from err
    return WebSocketBridge(connection)


class WebSocketBridge:
    """An open upstream websocket, bridged to a client's once `start` is called."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self.connection = connection
        self._pump: asyncio.Task[None] | None = None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the upstream selected."""
        return self.connection.selected_subprotocol

    def start(self, client: MessageSink) -> None:
        """Forward the upstream's messages to `client` until either side closes."""
        self._pump = asyncio.ensure_future(self._forward(client))
        self._pump.add_done_callback(self._pumped)

    async def send(self, message: str | bytes) -> None:
        """Forward one client message upstream (dropped once the upstream closed)."""
        try:
            await self.connection.write_message(message, binary=isinstance(message, bytes))
        except (WebSocketClosedError, StreamClosedError):
            return

    def close(self, code: int | None, reason: str | None) -> None:
        """The client closed: close the upstream with the same code and reason."""
        self.connection.close(wire_code(code), short_reason(reason))

    async def _forward(self, client: MessageSink) -> None:
        while True:
            message = await self.connection.read_message()
            if message is None:
                code, reason = self.connection.close_code, self.connection.close_reason
                self.connection.close()  # already closed: this releases it
                client.close(wire_code(code), short_reason(reason))
                return
            try:
                await client.write_message(message, binary=isinstance(message, bytes))
            except (WebSocketClosedError, StreamClosedError):
                self.connection.close()
                return

    @staticmethod
    def _pumped(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("Websocket forwarding failed: %s", task.exception())
