"""ChannelsHandler: one websocket on `/api/kernels/:id/channels`, bridged to the kernel's hub.

The handler speaks `v1.kernel.websocket.jupyter.org` when the client offers it, else legacy JSON
messages. It keeps almost no state of its own: the kernel's `KernelHub` does the fan-out,
routing and replay. A malformed frame closes this websocket only (1007, or 1003 for a frame of
the wrong kind); keepalive pings follow tornado's `websocket_ping_interval` setting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from tornado.iostream import StreamBufferFullError, StreamClosedError
from tornado.websocket import WebSocketClosedError

from ..base.handlers import AccessPolicy
from ..base.websocket import GatewayWebSocketHandler
from ..errors import BadRequest
from ..services.kernels.manager import MappingKernelManager
from .hub import KernelHub, KernelHubs
from .protocol import V1_SUBPROTOCOL, ProtocolError, from_json_frame, from_v1_frame

MAX_WRITE_BUFFER = 64 * 1024 * 1024  # a client this far behind is disconnected
CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID = 1007
CLOSE_TOO_SLOW = 1008
log = logging.getLogger(__name__)


def ignore_closed(sent: asyncio.Future[None]) -> None:
    """Take a queued frame's failure: the websocket closed before it went out (nothing to do,
    and asyncio would log every such frame as an exception never retrieved)."""
    if not sent.cancelled():
        sent.exception()


class ChannelsHandler(GatewayWebSocketHandler):
    """Bridge one websocket to a kernel; many of these share one kernel connection."""

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        kernel_manager: MappingKernelManager,
        hubs: KernelHubs,
        **_: Any,
    ) -> None:
        super().initialize(policy)
        self.kernel_manager = kernel_manager
        self.hubs = hubs
        self.session_id = ""
        self.v1 = False
        self.pending: OrderedDict[str, None] = OrderedDict()
        self.hub: KernelHub | None = None

    def prepare(self) -> None:
        super().prepare()
        self.session_id = self.get_query_argument("session_id", "") or ""

    async def get(self, kernel_id: str) -> None:
        """Upgrade to a websocket once the kernel is known to exist (404 JSON otherwise)."""
        self.kernel_manager.get(kernel_id)
        headers = self.request.headers
        connection_tokens = {
            part.strip().lower() for part in headers.get("Connection", "").split(",")
        }
        if headers.get("Upgrade", "").lower() != "websocket" or "upgrade" not in connection_tokens:
            raise BadRequest("This URL takes a websocket: GET with Upgrade: websocket")
        await super().get(kernel_id)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        self.v1 = V1_SUBPROTOCOL in subprotocols
        return V1_SUBPROTOCOL if self.v1 else None

    def open(self, kernel_id: str) -> None:  # type: ignore[override]
        self.set_nodelay(True)
        stream = getattr(self.ws_connection, "stream", None)
        if stream is not None:
            stream.max_write_buffer_size = MAX_WRITE_BUFFER
        self.hub = self.hubs.hub(self.kernel_manager.get(kernel_id))
        self.hub.attach(self)

    def on_message(self, message: str | bytes) -> None:
        if self.hub is None:
            return
        try:
            if self.v1:
                if isinstance(message, str):
                    self.close_for(CLOSE_UNSUPPORTED, "v1 messages must be binary")
                    return
                parsed = from_v1_frame(message, self.session_id)
            else:
                parsed = from_json_frame(message, self.session_id)
        except ProtocolError as err:
            log.info("Closing websocket to kernel %s: %s", self.hub.connection.kernel_id, err)
            self.close_for(CLOSE_INVALID, str(err))
            return
        self.hub.send(self, parsed)

    def on_close(self) -> None:
        if self.hub is not None:
            self.hub.detach(self)
            self.hub = None

    # -- the hub's side ----------------------------------------------------------------------

    def write_frame(self, frame: str | bytes) -> None:
        """Queue one frame; a client that stopped reading is disconnected."""
        try:
            sent = self.write_message(frame, binary=isinstance(frame, bytes))
        except (WebSocketClosedError, StreamClosedError):
            return
        except StreamBufferFullError:
            log.warning("Closing a websocket that fell %d bytes behind", MAX_WRITE_BUFFER)
            self.close_for(CLOSE_TOO_SLOW, "Too far behind")
            return
        sent.add_done_callback(ignore_closed)

    def close_for(self, code: int, reason: str) -> None:
        """Close with a code and reason, detaching from the hub at once."""
        self.on_close()
        self.close(code, reason[:120])
