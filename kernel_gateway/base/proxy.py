"""ProxyHandler: a route whose requests are forwarded to an upstream server, HTTP or websocket.

A subclass says where a request goes (`resolve`: the upstream and the path prefix it strips);
this class checks access like every route, then forwards with `services.proxy`: request bodies
streamed as they arrive (`stream_request_body`), answers streamed as the upstream sends them, and
a GET with `Upgrade: websocket` bridged to a websocket opened upstream. The gateway's own token
(an `Authorization` header or `token` query parameter carrying it) is not passed on; CORS
preflight requests are answered by the gateway, as on every route. HTTP exchanges count as
requests in flight for a graceful shutdown; the mode's `stop` closes the websockets (1001)
through the `OpenWebSockets` its route gives.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote_plus

from tornado import web
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPHeaders

from ..errors import PayloadTooLarge, UpstreamError
from ..services.proxy import (
    Forwarding,
    HTTPForward,
    Upstream,
    WebSocketBridge,
    connect_websocket,
    request_headers,
)
from ..services.proxy.headers import WEBSOCKET_HANDSHAKE
from ..serving import RequestTracker
from .handlers import AccessPolicy
from .websocket import GatewayWebSocketHandler, OpenWebSockets

DEFAULT_TIMEOUT = 30.0
DEFAULT_BODY_LIMIT = 100 * 1024 * 1024  # tornado's, when the server sets none
REDIRECTED = ("GET", "HEAD")  # `/prefix` -> `/prefix/`, so that relative links work


def without_token(query: str, token: str) -> str:
    """`query` minus the `token` parameters that carry the gateway's `token`."""
    if not token or not query:
        return query

    def is_ours(part: str) -> bool:
        name, _, value = part.partition("=")
        presented = unquote_plus(value).encode()
        return unquote_plus(name) == "token" and hmac.compare_digest(presented, token.encode())

    return "&".join(part for part in query.split("&") if not is_ours(part))


def referer_without_token(referer: str, token: str) -> str:
    """A Referer minus the gateway's `token` in its query: a browser sends the URL of the page
    it opened with `?token=...` along with every request that page makes."""
    address, question, query = referer.partition("?")
    if not question:
        return referer
    query = without_token(query, token)
    return f"{address}?{query}" if query else address


def carries_token(headers: HTTPHeaders, token: str) -> bool:
    """True if the Authorization header presents the gateway's `token` (then it stays here)."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() not in ("token", "bearer"):
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def is_upgrade(method: str | None, headers: HTTPHeaders) -> bool:
    """True for a websocket handshake (a GET, version 13: the one tornado speaks)."""
    connection = {part.strip().lower() for part in headers.get("Connection", "").split(",")}
    return (
        method == "GET"
        and headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in connection
        and headers.get("Sec-WebSocket-Version") == "13"
    )


@web.stream_request_body
class ProxyHandler(GatewayWebSocketHandler):
    """Forwards the requests of its route upstream; subclasses implement `resolve`."""

    forward: HTTPForward | None = None
    bridge: WebSocketBridge | None = None
    _sent_body = False
    _tracked = False
    _opened = False

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        tracker: RequestTracker | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        websockets: OpenWebSockets | None = None,
        **_: Any,
    ) -> None:
        super().initialize(policy)
        self.tracker = tracker
        self.timeout = timeout
        self.websockets = websockets or OpenWebSockets()

    async def resolve(self) -> tuple[Upstream, str]:
        """Where this request goes, and the raw path prefix the upstream doesn't see.

        Called after the access checks; raises a GatewayError to refuse the request.
        """
        raise NotImplementedError

    def is_preflight(self) -> bool:
        """Only a CORS preflight; any other OPTIONS request is checked and forwarded."""
        return self.request.method == "OPTIONS" and (
            "Access-Control-Request-Method" in self.request.headers
        )

    async def prepare(self) -> None:
        if self.is_preflight():
            return
        super().prepare()
        self.refuse_large_body()
        self.upstream, self.prefix = await self.resolve()
        if is_upgrade(self.request.method, self.request.headers):
            return
        self.track()
        if self.request.path == self.prefix and self.request.method in REDIRECTED:
            query = self.request.query
            self.redirect(f"{self.prefix}/" + (f"?{query}" if query else ""), permanent=True)
            return
        self.forward = HTTPForward(self.upstream, self.timeout)
        chunked = "Transfer-Encoding" in self.request.headers
        await self.forward.open(
            self.request.method or "GET", self.target(), self.headers(), chunked
        )

    def refuse_large_body(self) -> None:
        """413 for a declared body over the server's limit, from the headers alone (tornado
        would refuse it as a bare 400 "not valid HTTP"); the connection then closes unread."""
        connection = self.request.connection
        declared = self.request.headers.get("Content-Length", "")
        if not isinstance(connection, HTTP1Connection) or not declared.isdigit():
            return
        limit = connection.params.max_body_size or DEFAULT_BODY_LIMIT
        if int(declared) > limit:
            connection.set_max_body_size(int(declared))  # or it writes its 400 after ours
            raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}")

    def target(self) -> str:
        """The path and query the upstream gets."""
        path = self.request.path[len(self.prefix) :] or "/"
        query = without_token(self.request.query, self.policy.auth_token)
        return f"{path}?{query}" if query else path

    def headers(self, drop: frozenset[str] = frozenset()) -> HTTPHeaders:
        """The request's headers as the upstream gets them."""
        request = self.request
        if carries_token(request.headers, self.policy.auth_token):
            drop = drop | {"authorization"}
        forwarding = Forwarding(
            host=request.host,
            proto=request.protocol,
            prefix=self.prefix,
            client_ip=request.remote_ip or "",
        )
        headers = request_headers(request.headers, forwarding, drop)
        if "Referer" in headers:
            headers["Referer"] = referer_without_token(headers["Referer"], self.policy.auth_token)
        return headers

    def data_received(self, chunk: bytes) -> Any:
        return self.forward.send(chunk) if self.forward is not None else None

    # -- HTTP --------------------------------------------------------------------------------

    def track(self) -> None:
        """Count the exchange as in flight, so shutdown lets it finish; 503 while stopping."""
        if self.tracker is None:
            return
        refusal = self.tracker.refusal()  # starting or shutting down
        if refusal is not None:
            raise web.HTTPError(503, refusal)
        self.tracker.started(self)
        self._tracked = True

    def on_finish(self) -> None:
        if self._tracked and self.tracker is not None:
            self.tracker.finished(self)
            self._tracked = False

    def abandon(self) -> Awaitable[None]:
        """The shutdown grace period is over: a proxy can only cut the exchange."""
        self.cut()
        return asyncio.sleep(0)

    def cut(self) -> None:
        """Close both connections; the client sees the answer end without its last chunk."""
        if self.forward is not None:
            self.forward.abort()
        if isinstance(self.request.connection, HTTP1Connection):
            self.request.connection.close()

    async def relay(self) -> None:
        """Stream the upstream's answer back; cut the connection if the upstream cut it."""
        assert self.forward is not None
        if await self.forward.relay(self):
            self.finish()
        elif not self._sent_body:
            raise UpstreamError(f"{self.upstream.describe()} closed the connection mid-answer")
        else:
            self.cut()

    def start_response(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        """The upstream's status and headers replace the gateway's defaults."""
        self.set_status(status, reason or None)
        for name in {"Content-Type", *(name for name, _ in headers)}:
            self.clear_header(name)
        for name, value in headers:
            self.add_header(name, value)

    def write_body(self, chunk: bytes) -> Any:
        self._sent_body = True
        self.write(chunk)
        return self.flush()

    def compute_etag(self) -> None:
        """The upstream's answers pass as they are: no ETag of the gateway's own."""
        return None

    async def head(self, *args: str, **kwargs: str) -> None:
        await self.relay()

    async def post(self, *args: str, **kwargs: str) -> None:
        await self.relay()

    async def put(self, *args: str, **kwargs: str) -> None:
        await self.relay()

    async def patch(self, *args: str, **kwargs: str) -> None:
        await self.relay()

    async def delete(self, *args: str, **kwargs: str) -> None:
        await self.relay()

    async def options(self, *args: str, **kwargs: str) -> None:
        if self.is_preflight():
            super().options()
        else:
            await self.relay()

    # -- websockets --------------------------------------------------------------------------

    async def get(self, *args: str, **kwargs: str) -> None:
        if not is_upgrade(self.request.method, self.request.headers):
            await self.relay()
            return
        offered = self.request.headers.get("Sec-WebSocket-Protocol", "")
        subprotocols = [part.strip() for part in offered.split(",") if part.strip()]
        headers = self.headers(WEBSOCKET_HANDSHAKE)
        self.bridge = await connect_websocket(
            self.upstream, self.target(), headers, subprotocols, self.timeout
        )
        try:
            await super().get(*args, **kwargs)  # the upgrade; returns once the websocket closed
        finally:
            if not self._opened:
                self.bridge.close(None, None)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """The one the upstream selected."""
        return self.bridge.subprotocol if self.bridge is not None else None

    def open(self, *args: str, **kwargs: str) -> None:
        assert self.bridge is not None
        self._opened = True
        self.set_nodelay(True)
        self.websockets.add(self)
        self.bridge.start(self)

    def on_message(self, message: str | bytes) -> Any:
        return self.bridge.send(message) if self.bridge is not None else None

    def on_close(self) -> None:
        self.websockets.discard(self)
        if self.bridge is not None:
            self.bridge.close(self.close_code, self.close_reason)
        if self.forward is not None:
            self.forward.abort()
        self.on_finish()
