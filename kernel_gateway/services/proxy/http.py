"""HTTP forwarding: one request streamed to an upstream server, its answer streamed back.

Built on tornado's HTTP/1.1 connection (the engine of tornado's HTTP client) rather than on
`AsyncHTTPClient`: it awaits the delivery of each response chunk before it reads the next, so a
slow client slows the upstream down instead of filling the gateway's memory, and it connects to
unix sockets through a resolver. One upstream connection per request (no keep-alive).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPOutputError,
    RequestStartLine,
    ResponseStartLine,
)
from tornado.iostream import StreamClosedError
from tornado.tcpclient import TCPClient

from ...errors import UpstreamError, UpstreamTimeout
from .headers import end_to_end
from .upstream import Upstream, why

CHUNKED_BY_TORNADO = ("POST", "PUT", "PATCH")  # tornado frames a body of unknown length itself
CONNECTION_PARAMS = HTTP1ConnectionParameters(
    no_keep_alive=True,
    decompress=False,  # bytes pass through as the upstream encoded them
    chunk_size=64 * 1024,
    max_header_size=64 * 1024,
    max_body_size=2**62,  # streamed through, never held whole
)


class ResponseWriter(Protocol):
    """The client's end of a forwarded exchange: the gateway handler that received it."""

    def start_response(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        """Take the answer's status and end-to-end headers (sent with the first chunk)."""

    def write_body(self, chunk: bytes) -> Awaitable[None]:
        """Send a chunk now; resolves once sent, raises StreamClosedError if the client left."""


class _Relay(HTTPMessageDelegate):
    """Hands the upstream's answer to a writer as it arrives."""

    def __init__(self, writer: ResponseWriter, close_upstream: Callable[[], None]) -> None:
        self.writer = writer
        self.head: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.complete = False
        self.client_gone = False
        self._close_upstream = close_upstream

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> None:
        assert isinstance(start_line, ResponseStartLine)
        if 100 <= start_line.code < 200:
            return  # an interim answer (103 Early Hints): the final one follows
        self.writer.start_response(start_line.code, start_line.reason, end_to_end(headers))
        if not self.head.done():
            self.head.set_result(None)

    def data_received(self, chunk: bytes) -> Awaitable[None]:
        return self._deliver(chunk)

    async def _deliver(self, chunk: bytes) -> None:
        if self.client_gone:
            return
        try:
            await self.writer.write_body(chunk)
        except StreamClosedError:
            self.client_gone = True
            self._close_upstream()

    def finish(self) -> None:
        self.complete = True


class HTTPForward:
    """One request on its way upstream: `open`, `send` each body chunk, then `relay`.

    The gateway's handler calls `open` once it has the request's head, `send` as body chunks
    arrive (awaiting each, so a slow upstream slows the client down), `relay` once the body is
    complete, and `abort` if the client goes away.
    """

    def __init__(self, upstream: Upstream, timeout: float) -> None:
        self.upstream = upstream
        self.timeout = timeout
        self._conn: HTTP1Connection | None = None
        self._frames_chunks = False

    async def open(self, method: str, target: str, headers: HTTPHeaders, chunked: bool) -> None:
        """Connect and send the request head; `chunked`: the body's length is not known.

        Raises UpstreamError (nothing listening) or UpstreamTimeout (no connection in time).
        """
        where = self.upstream.describe()
        client = TCPClient(resolver=self.upstream.resolver())
        try:
            stream = await client.connect(
                self.upstream.host, self.upstream.port, timeout=self.timeout
            )
        except asyncio.TimeoutError as err:  # not the builtin one before Python 3.11
            raise UpstreamTimeout(
                f"{where} accepted no connection within {self.timeout:g} s"
            ) from err
        except (OSError, StreamClosedError) as err:
            raise UpstreamError(f"Nothing answers at {where}: {why(err)}") from err
        finally:
            client.close()
        self._conn = HTTP1Connection(stream, True, CONNECTION_PARAMS)
        self._frames_chunks = chunked and method not in CHUNKED_BY_TORNADO
        if self._frames_chunks:
            headers["Transfer-Encoding"] = "chunked"
        headers["Connection"] = "close"
        try:
            await self._conn.write_headers(RequestStartLine(method, target, "HTTP/1.1"), headers)
        except StreamClosedError as err:
            raise UpstreamError(f"{where} closed the connection at once") from err

    async def send(self, chunk: bytes) -> None:
        """Pass a chunk of the request body on; dropped once the upstream closed (`relay` says)."""
        if self._conn is None or self._conn.stream.closed() or not chunk:
            return
        if self._frames_chunks:
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        with contextlib.suppress(StreamClosedError):
            await self._conn.write(chunk)

    async def relay(self, writer: ResponseWriter) -> bool:
        """End the request, wait (up to the timeout) for the answer's head, stream it to `writer`.

        True if the whole answer was delivered; False if the upstream cut it short or the client
        left. Raises UpstreamError (closed without a valid answer) or UpstreamTimeout.
        """
        conn = self._conn
        assert conn is not None, "open() first"
        relay = _Relay(writer, conn.close)
        try:
            if self._frames_chunks and not conn.stream.closed():
                conn.write(b"0\r\n\r\n")
            with contextlib.suppress(HTTPOutputError):  # the stream closed: reading will tell
                conn.finish()
            reading: asyncio.Future[bool] = asyncio.ensure_future(conn.read_response(relay))
            waiting: set[asyncio.Future[Any]] = {relay.head, reading}
            await asyncio.wait(waiting, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
            if not relay.head.done():
                timed_out = not reading.done()
                conn.close()
                with contextlib.suppress(StreamClosedError):
                    await reading
                self.raise_no_answer(timed_out)
            with contextlib.suppress(StreamClosedError):
                await reading
        finally:
            conn.close()
        return relay.complete and not relay.client_gone

    def raise_no_answer(self, timed_out: bool) -> None:
        """Raise why no answer came: UpstreamTimeout, or UpstreamError for a closed connection."""
        where = self.upstream.describe()
        if timed_out:
            raise UpstreamTimeout(f"{where} did not answer within {self.timeout:g} s")
        raise UpstreamError(f"{where} closed the connection without a valid HTTP answer")

    def abort(self) -> None:
        """Drop the upstream connection (the client went away)."""
        if self._conn is not None:
            self._conn.close()
