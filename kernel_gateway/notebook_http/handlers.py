"""Handlers of notebook-http mode: endpoints, the API spec, the notebook source, /public/."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from tornado import web
from tornado.http1connection import HTTP1Connection

from ..base.handlers import GatewayHandler
from ..errors import CellError, MethodNotAllowed, PayloadTooLarge
from ..services.kernels.connection import KernelConnection
from ..services.kernels.execution import ExecutionResult
from ..services.kernels.failures import cell_failure
from ..services.kernels.pool import KernelPool
from .endpoints import Endpoint, Route
from .fastpath.pool import FastPath
from .request import build_request, request_assignment, with_request
from .response import EndpointResponse, map_response
from .runner import run_endpoint

UNBOUNDED_CHUNKS = 2**62  # data_received enforces max_body_size on chunked bodies
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the colors of IPython tracebacks


@dataclass(frozen=True)
class EndpointSettings:
    """The mode's options every endpoint request needs."""

    language: str
    inline_response_info: bool
    max_body_size: int
    request_timeout: float
    max_queue_wait: float
    show_tracebacks: bool
    comment_prefix: str = "#"
    app: str = "/"  # the app's name in metrics and logs


@dataclass
class EndpointRecord:
    """What one endpoint request did, for metrics: its route and timings."""

    app: str
    endpoint: str  # the route pattern, never the raw path
    queued: bool = False
    kernel_id: str | None = None
    queue_wait: float | None = None
    execution: float | None = None
    response_bytes: int = 0


@web.stream_request_body
class EndpointHandler(GatewayHandler):
    """Runs the cells of one path's endpoints on a pooled kernel and maps their output.

    The body is streamed in, so a wrong method (405) or a declared Content-Length over
    max_body_size (413) is answered from the headers alone: no body is read, no kernel is
    borrowed, and a client that sent `Expect: 100-continue` uploads nothing. At most
    max_body_size bytes of a body are kept.
    """

    def initialize(  # type: ignore[override]
        self,
        route: Route,
        pool: KernelPool,
        endpoint_settings: EndpointSettings,
        fast_path: FastPath,
        **base: Any,
    ) -> None:
        super().initialize(**base)
        self.fast_path = fast_path
        self.route = route
        self.pool = pool
        self.endpoint_settings = endpoint_settings
        self.chunks: list[bytes] = []
        self.received = 0
        self.uploaded = False
        self.endpoint_record = EndpointRecord(endpoint_settings.app, route.path)

    def prepare(self) -> None:
        """After the headers, before the body: access checks, then 405 and 413."""
        try:
            super().prepare()
            if self.request.method != "OPTIONS":
                self.endpoint()
                declared = self.declared_length()
                if declared > self.endpoint_settings.max_body_size:
                    raise self.too_large(declared)
                self.let_chunks_reach_us()
        except Exception:
            self.forgo_body()
            raise

    def data_received(self, chunk: bytes) -> None:
        """Keep the body up to max_body_size; past it (a chunked body has no declared length),
        answer 413 at once: the connection closes once the answer is written."""
        self.received += len(chunk)
        if self.received <= self.endpoint_settings.max_body_size:
            self.chunks.append(chunk)
        elif not self._finished:
            self.chunks.clear()
            error = self.too_large(self.received, exact=False)
            self.send_error(error.status_code, exc_info=(type(error), error, None))

    async def serve(self, **path_args: str) -> None:
        """Answer one request: its endpoint's cells on a borrowed kernel, their output mapped."""
        self.uploaded = True
        if self._finished:  # refused while the body came in
            return
        settings = self.endpoint_settings
        endpoint = self.endpoint()
        request_json = self.request_json(path_args)
        record = self.endpoint_record
        record.queued = True
        queued = time.perf_counter()
        async with self.pool.borrow(settings.max_queue_wait) as kernel:
            started = time.perf_counter()
            record.queue_wait = started - queued
            record.kernel_id = kernel.kernel_id
            result, info_result = await self.run_on(kernel, endpoint, request_json)
            record.execution = time.perf_counter() - started
        if result.error:  # named by its cell, with the line of the user's code
            raise cell_failure(result.error, endpoint.cell_index, endpoint.source)
        self.write_response(map_response(result, info_result))

    get = post = put = patch = delete = serve  # type: ignore[assignment]

    async def run_on(
        self, kernel: KernelConnection, endpoint: Endpoint, request_json: str
    ) -> tuple[ExecutionResult, ExecutionResult | None]:
        """Run the endpoint on a borrowed kernel: on its request runner (the fast path), else
        as an execute_request."""
        settings = self.endpoint_settings
        timeout = settings.request_timeout
        results = await self.fast_path.run(kernel, endpoint, request_json, timeout)
        if results is None:
            code = self.code(endpoint, request_json)
            info, inline = endpoint.response_info, settings.inline_response_info
            results = await run_endpoint(kernel, code, info, timeout, inline)
        return results

    def on_connection_close(self) -> None:
        """The client left; if it left mid-upload, tornado never calls `on_finish`, so call it
        here, or shutdown would wait for a request that will never run."""
        super().on_connection_close()
        if not self.uploaded:
            self.on_finish()

    def endpoint(self) -> Endpoint:
        """The endpoint of the request's method; MethodNotAllowed if none.

        HEAD is not served: it would run the GET cell's code (side effects included) only to
        drop its answer.
        """
        method = self.request.method or "GET"
        endpoint = self.route.endpoints.get(method) if method != "HEAD" else None
        if endpoint is None:
            message = f"{method} is not allowed on {self.route.path}"
            raise MethodNotAllowed(message, self.allowed_methods())
        return endpoint

    async def head(self, *args: str, **kwargs: str) -> None:
        self.endpoint()  # raises MethodNotAllowed

    def allowed_methods(self) -> list[str]:
        """The methods the notebook declares for this path, and OPTIONS."""
        return [*self.route.methods, "OPTIONS"]

    def request_json(self, path_args: dict[str, str]) -> str:
        """The REQUEST value of this request: its body, arguments, path parameters, headers."""
        return build_request(
            b"".join(self.chunks),
            self.request.headers.get("Content-Type"),
            self.request.query_arguments,
            path_args,
            list(self.request.headers.get_all()),
        )

    def code(self, endpoint: Endpoint, request_json: str) -> str:
        """The endpoint's code, after an assignment of the request to REQUEST (on the line of
        its annotation, so that errors give the lines of the user's cell)."""
        assignment = request_assignment(request_json, self.endpoint_settings.language)
        return with_request(assignment, endpoint.source, self.endpoint_settings.comment_prefix)

    def too_large(self, size: int, exact: bool = True) -> PayloadTooLarge:
        limit = self.endpoint_settings.max_body_size
        size_text = f"{size} bytes" if exact else f"over {limit} bytes"
        return PayloadTooLarge(f"The request body is {size_text}; the limit is {limit}")

    def forgo_body(self) -> None:
        """Before an answer given from the headers: let the connection close without the body.

        Tornado closes a connection whose request body is unread once the answer is written;
        raising the connection's body limit to the declared length keeps it from rejecting
        that body first, with a bare 400 written after our answer.
        """
        declared = self.declared_length()
        if declared and isinstance(self.request.connection, HTTP1Connection):
            self.request.connection.set_max_body_size(declared)

    def let_chunks_reach_us(self) -> None:
        """A chunked body has no declared length: lift the connection's own limit for it, so
        that `data_received` answers our 413 past max_body_size instead of tornado refusing a
        large chunk's declared size with a bare 400 before any of it arrives."""
        chunked = "chunked" in self.request.headers.get("Transfer-Encoding", "").lower()
        if chunked and isinstance(self.request.connection, HTTP1Connection):
            self.request.connection.set_max_body_size(UNBOUNDED_CHUNKS)

    def declared_length(self) -> int:
        """The request's Content-Length; 0 without one (tornado rejects an invalid one)."""
        declared = self.request.headers.get("Content-Length", "")
        return int(declared) if declared.isdigit() else 0

    def write_response(self, response: EndpointResponse) -> None:
        """Send a mapped response: its status, its headers only (one Content-Type), its body."""
        self.set_status(response.status)
        self.clear_header("Content-Type")
        for name, value in response.headers:
            self.add_header(name, value)
        self.endpoint_record.response_bytes = len(response.body or b"")
        self.finish(response.body or None)  # tornado refuses even b"" with a 204 or 304

    def compute_etag(self) -> None:
        """No ETag: endpoint answers are computed afresh, hashing them is wasted work."""
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The base JSON error; with show_tracebacks, a failing cell's traceback as plain text."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, CellError) and self.endpoint_settings.show_tracebacks:
            lines = [ANSI_ESCAPE.sub("", line) for line in error.traceback]
            error.message = "\n".join([error.message, *lines])
        super().write_error(status_code, **kwargs)


class SpecHandler(GatewayHandler):
    """A prebuilt JSON document: the API's Swagger or OpenAPI description."""

    def initialize(self, document: str, **base: Any) -> None:  # type: ignore[override]
        super().initialize(**base)
        self.document = document

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(self.document)


class SourceHandler(SpecHandler):
    """`GET /_api/source`: the seed notebook, when allow_notebook_download is on."""


class PublicFileHandler(GatewayHandler, web.StaticFileHandler):
    """Files under static_path at /public/, behind the same checks and JSON errors."""

    def initialize(self, path: str, **base: Any) -> None:  # type: ignore[override]
        GatewayHandler.initialize(self, **base)
        web.StaticFileHandler.initialize(self, path)

    get = web.StaticFileHandler.get
    head = web.StaticFileHandler.head  # type: ignore[assignment]
