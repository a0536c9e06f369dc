"""services.proxy on its own: HTTP and websockets to a unix socket, and upstreams that misbehave.

The upstreams here are small servers in the test's own event loop (no kernel is involved in
the forwarding module itself; the kernel proxy's tests run the same kinds of app in a kernel).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from tornado import httpserver, netutil, web, websocket
from tornado.httputil import HTTPHeaders

from kernel_gateway.errors import UpstreamError, UpstreamTimeout
from kernel_gateway.services.proxy import HTTPForward, Upstream, connect_websocket


class Collector:
    """A ResponseWriter that keeps what it gets."""

    def __init__(self) -> None:
        self.head: tuple[int, str, list[tuple[str, str]]] | None = None
        self.chunks: list[bytes] = []

    def start_response(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        self.head = (status, reason, headers)

    async def write_body(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


class Sink:
    """A MessageSink that keeps what it gets."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.closed: asyncio.Future[tuple[int | None, str | None]] = (
            asyncio.get_running_loop().create_future()
        )

    async def write_message(self, message: str | bytes, binary: bool = False) -> None:
        assert binary == isinstance(message, bytes)
        self.messages.put_nowait(message)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed.set_result((code, reason))


@web.stream_request_body
class EchoHandler(web.RequestHandler):
    def prepare(self) -> None:
        self.body = b""

    def data_received(self, chunk: bytes) -> None:
        self.body += chunk

    def put(self) -> None:
        self.set_header("X-Seen-Host", self.request.host)
        self.write(b"got " + self.body)


class EchoSocket(websocket.WebSocketHandler):
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[-1] if subprotocols else None

    def on_message(self, message: str | bytes) -> None:
        if message == "bye":
            self.close(4000, "as asked")
        else:
            self.write_message(message, binary=isinstance(message, bytes))


@contextlib.asynccontextmanager
async def unix_app(path: Path) -> AsyncIterator[Upstream]:
    server = httpserver.HTTPServer(web.Application([("/echo", EchoHandler), ("/ws", EchoSocket)]))
    server.add_socket(netutil.bind_unix_socket(str(path)))
    try:
        yield Upstream(socket_path=str(path))
    finally:
        server.stop()
        await server.close_all_connections()


@contextlib.asynccontextmanager
async def raw_server(
    answer: Callable[[asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[Upstream]:
    """A TCP server that reads a request head and then does whatever `answer` does."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answer(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield Upstream("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def get(upstream: Upstream, timeout: float = 10.0) -> tuple[Collector, bool]:
    forward = HTTPForward(upstream, timeout)
    await forward.open("GET", "/", HTTPHeaders(), chunked=False)
    collector = Collector()
    return collector, await forward.relay(collector)


async def test_http_over_a_unix_socket_with_a_chunked_body(tmp_path: Path) -> None:
    async with unix_app(tmp_path / "app.sock") as upstream:
        forward = HTTPForward(upstream, 10.0)
        await forward.open("PUT", "/echo", HTTPHeaders({"Host": upstream.authority}), chunked=True)
        for part in (b"one ", b"two"):
            await forward.send(part)
        collector = Collector()
        assert await forward.relay(collector)
    assert collector.head is not None
    status, reason, headers = collector.head
    assert (status, reason, dict(headers)["X-Seen-Host"]) == (200, "OK", "localhost")
    assert b"".join(collector.chunks) == b"got one two"


async def test_a_websocket_over_a_unix_socket(tmp_path: Path) -> None:
    async with unix_app(tmp_path / "app.sock") as upstream:
        bridge = await connect_websocket(upstream, "/ws", HTTPHeaders(), ["a", "b"], 10.0)
        assert bridge.subprotocol == "b"
        sink = Sink()
        bridge.start(sink)
        await bridge.send("text")
        await bridge.send(b"\x00bytes")
        assert [await sink.messages.get(), await sink.messages.get()] == ["text", b"\x00bytes"]
        await bridge.send("bye")
        assert await asyncio.wait_for(sink.closed, 10) == (4000, "as asked")


async def test_nothing_on_the_socket_is_an_upstream_error(tmp_path: Path) -> None:
    upstream = Upstream(socket_path=str(tmp_path / "none.sock"))
    with pytest.raises(UpstreamError) as raised:
        await HTTPForward(upstream, 10.0).open("GET", "/", HTTPHeaders(), chunked=False)
    assert (
        str(raised.value)
        == f"Nothing answers at unix:{tmp_path}/none.sock: No such file or directory"
    )
    with pytest.raises(UpstreamError):
        await connect_websocket(upstream, "/ws", HTTPHeaders(), [], 10.0)


async def test_an_answer_cut_short_is_delivered_as_far_as_it_went() -> None:
    async def cut(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        await writer.drain()

    async with raw_server(cut) as upstream:
        collector, whole = await get(upstream)
    assert (whole, b"".join(collector.chunks)) == (False, b"0123456789")


async def test_no_answer_or_garbage_is_an_upstream_error() -> None:
    async def nothing(writer: asyncio.StreamWriter) -> None:
        return

    async def garbage(writer: asyncio.StreamWriter) -> None:
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    for answer in (nothing, garbage):
        async with raw_server(answer) as upstream:
            with pytest.raises(UpstreamError) as raised:
                await get(upstream)
        assert str(raised.value) == (
            f"{upstream.describe()} closed the connection without a valid HTTP answer"
        )


async def test_an_answer_that_never_comes_times_out() -> None:
    never = asyncio.Event()

    async def hang(writer: asyncio.StreamWriter) -> None:
        await never.wait()

    async with raw_server(hang) as upstream:
        with pytest.raises(UpstreamTimeout) as raised:
            await get(upstream, timeout=0.2)
        never.set()
    assert str(raised.value) == f"{upstream.describe()} did not answer within 0.2 s"
