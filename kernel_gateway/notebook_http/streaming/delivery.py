"""How an endpoint request's answer reaches its client: buffered, as events, or chunked.

The endpoint handler picks one `Delivery` per request (`choose_delivery`), runs the cell
through it on a borrowed kernel (`run`), then lets it answer (`end`), or tells it why the run
failed (`fail`), which re-raises the error while a JSON error can still be the answer.

- buffered (the default): stdout kept in a `BufferedBody`; the response mapped when the cell
  is done, written without joining its pieces.
- events (`Accept: text/event-stream`, any endpoint but a STREAM one): 200 and the headers at
  once, then each output as an event, then `end`; a failure after that is an `error` event.
- chunked (a STREAM endpoint): its ResponseInfo cell runs first and gives status and headers,
  sent with the first stdout piece; each piece is a chunk. A failure after the first chunk
  closes the connection without the last chunk, so the client can tell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import cast

from tornado import web
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

from ...errors import CellError, GatewayError, RunNotStarted, RunStopped
from ...services.kernels.connection import KernelConnection
from ...services.kernels.failures import cell_failure
from ..endpoints import Endpoint
from ..fastpath.pool import FastPath
from ..fastpath.runner import Results
from ..response import DEFAULT_CONTENT_TYPE, EndpointResponse, map_response, response_info
from ..version import EndpointSettings
from .events import HEADERS, end_event, error_event, wants_events
from .sinks import BufferedBody, ChunkSink, EventSink, RunSink
from .writer import Piece, StreamWriter

NO_BODY = (204, 304)  # statuses whose answer ends with its headers


class Delivery:
    """One request's way of answering; the base is the buffered one."""

    def __init__(self, handler: web.RequestHandler, endpoint: Endpoint, settings: EndpointSettings):
        self.handler = handler
        self.endpoint = endpoint
        self.settings = settings
        self.sent = 0  # body bytes handed to the connection, for metrics and the access log
        self.counted: Callable[[int], None] = lambda sent: None  # told `sent` before the end
        self.sink: RunSink = self.make_sink()

    def make_sink(self) -> RunSink:
        return BufferedBody(self.settings.streaming.max_response_size)

    async def run(self, fast: FastPath, kernel: KernelConnection, request_json: str) -> Results:
        """Run the endpoint's cells on `kernel`, outputs to the sink."""
        return await fast.serve(kernel, self.endpoint, request_json, self.settings, self.sink)

    def client_gone(self) -> None:
        """The client closed the connection: stop the cell."""
        self.sink.stop(RunStopped("The client went away"))

    async def end(self, results: Results) -> None:
        """Answer from the finished run's results."""
        result, info = results
        if result.error:  # named by its cell, with the line of the user's code
            raise cell_failure(result.error, self.endpoint.cell_index, self.endpoint.source)
        assert isinstance(self.sink, BufferedBody)
        self.write(map_response(result, info, self.sink.take()))

    async def fail(self, error: GatewayError) -> None:
        """The run failed: raise `error` (a JSON error) while nothing is sent yet."""
        raise error

    def write(self, response: EndpointResponse) -> None:
        """Send a mapped response: headers first, then each part without joining them."""
        handler = self.handler
        handler.set_status(response.status)
        handler.clear_header("Content-Type")
        for name, value in response.headers:
            handler.add_header(name, value)
        parts = response.parts
        self.sent = sum(len(part) for part in parts)
        if not parts:
            self.finish()
            return
        handler.set_header("Content-Length", self.sent)
        handler.flush()  # the headers alone: tornado would copy them and the first part together
        for part in parts:
            handler.write(part)
            handler.flush()
        self.finish()

    async def send(self, data: Piece) -> None:
        """Write `data` (after the headers) and wait until the connection has taken it.

        Straight to the connection: the handler's own write takes bytes only, and copies.
        """
        handler = self.handler
        if not handler._headers_written:
            await handler.flush()
        connection = handler.request.connection
        assert connection is not None
        await connection.write(cast(bytes, data))

    async def close(self, writer: StreamWriter) -> None:
        """Write what the writer still holds, then the end of the body (or cut it)."""
        await writer.close()
        self.sent = writer.sent
        if writer.broken:
            self.cut()
            return
        self.finish()

    def finish(self) -> None:
        """End the answer (the metrics read the bytes sent as it ends)."""
        self.counted(self.sent)
        self.handler.finish()

    def cut(self) -> None:
        """End a response already under way without its end: close the connection."""
        connection = self.handler.request.connection
        if isinstance(connection, HTTP1Connection):
            connection.close()
        if not self.handler._finished:
            self.finish()


class EventDelivery(Delivery):
    """The outputs as Server-Sent Events."""

    def make_sink(self) -> RunSink:
        self.events = EventSink(self.send, self.settings.streaming)
        return self.events

    async def run(self, fast: FastPath, kernel: KernelConnection, request_json: str) -> Results:
        handler = self.handler
        handler.set_status(200)
        handler.clear_header("Content-Type")
        for name, value in HEADERS:
            handler.set_header(name, value)
        try:
            await handler.flush()
        except StreamClosedError as err:
            raise RunNotStarted("The client went away") from err
        self.events.writer.start()
        return await super().run(fast, kernel, request_json)

    async def end(self, results: Results) -> None:
        result, info = results
        status, headers = 500, list[tuple[str, str]]()
        if result.status == "ok" and not result.error:
            try:
                status, headers = response_info(info)
            except GatewayError as err:  # the ResponseInfo cell failed or printed garbage
                self.events.writer.push(error_event(type(err).__name__, err.message))
        elif not result.error:
            self.events.writer.push(error_event("ExecutionError", f"status {result.status}"))
        self.events.writer.push(end_event(status, tuple(headers)))
        await self.close(self.events.writer)

    async def fail(self, error: GatewayError) -> None:
        if not self.handler._headers_written:
            raise error
        if isinstance(error, RunStopped):
            await self.events.writer.close()
            self.sent = self.events.writer.sent
            self.cut()
            return
        name = error.ename if isinstance(error, CellError) else type(error).__name__
        self.events.writer.push(error_event(name, error.message))
        await self.close(self.events.writer)


class ChunkedDelivery(Delivery):
    """A STREAM endpoint: the ResponseInfo cell first, then stdout as chunks."""

    def make_sink(self) -> RunSink:
        self.head: tuple[int, list[tuple[str, str]]] = (200, [])
        self.chunks = ChunkSink(self.send, self.settings.streaming, self.commit)
        return self.chunks

    async def run(self, fast: FastPath, kernel: KernelConnection, request_json: str) -> Results:
        endpoint = self.endpoint
        if endpoint.response_info:
            head = replace(
                endpoint,
                method=f"ResponseInfo {endpoint.method}",
                source=endpoint.response_info,
                response_info=None,
            )
            result, _ = await fast.serve(kernel, head, request_json, self.settings)
            self.head = response_info(result)  # raises CellError or GatewayError: 500
            self.chunks.discard = self.head[0] in NO_BODY  # or read as the next answer
        body = replace(endpoint, response_info=None)
        return await fast.serve(kernel, body, request_json, self.settings, self.sink)

    def commit(self) -> None:
        """Status and headers, set just before the first chunk goes (a Content-Length that
        ResponseInfo declares is dropped: the body's length is not known, it is chunked)."""
        status, headers = self.head
        handler = self.handler
        handler.set_status(status)
        handler.clear_header("Content-Type")
        for name, value in headers:
            if name.lower() != "content-length":
                handler.add_header(name, value)
        if not any(name.lower() == "content-type" for name, _ in headers):
            handler.set_header("Content-Type", DEFAULT_CONTENT_TYPE)

    async def end(self, results: Results) -> None:
        result, _ = results
        if result.error:
            endpoint = self.endpoint
            await self.fail(cell_failure(result.error, endpoint.cell_index, endpoint.source))
            return
        if result.status != "ok":
            await self.fail(CellError("ExecutionError", f"the cell ended with {result.status}"))
            return
        if not self.chunks.started:
            self.commit()
        await self.close(self.chunks.writer)

    async def fail(self, error: GatewayError) -> None:
        await self.chunks.writer.close()
        if not self.handler._headers_written:  # nothing sent yet: a JSON error can answer
            raise error
        self.sent = self.chunks.writer.sent
        self.cut()


def choose_delivery(
    handler: web.RequestHandler, endpoint: Endpoint, settings: EndpointSettings
) -> Delivery:
    """The delivery of a request: chunked for a STREAM endpoint, events when the client
    accepts text/event-stream, else buffered."""
    if endpoint.stream:
        return ChunkedDelivery(handler, endpoint, settings)
    if wants_events(handler.request.headers.get("Accept")):
        return EventDelivery(handler, endpoint, settings)
    return Delivery(handler, endpoint, settings)
