"""Forwarding HTTP requests and websockets to a server on a host and port or a unix socket.

No mode logic here: a handler resolves where a request goes (an `Upstream`) and which headers
it carries, then drives an `HTTPForward` or a `WebSocketBridge`. Used by jupyter-websocket mode's
kernel proxy (`/api/kernels/:id/proxy/:port/...`) and notebook-http mode's served apps.
"""

from .headers import Forwarding, end_to_end, request_headers
from .http import HTTPForward, ResponseWriter
from .ports import PortRanges, PortRangesTrait, parse_port_ranges
from .probe import answers
from .upstream import Upstream
from .websocket import MessageSink, WebSocketBridge, connect_websocket

__all__ = [
    "Forwarding",
    "HTTPForward",
    "MessageSink",
    "PortRanges",
    "PortRangesTrait",
    "ResponseWriter",
    "Upstream",
    "WebSocketBridge",
    "answers",
    "connect_websocket",
    "end_to_end",
    "parse_port_ranges",
    "request_headers",
]
