"""The endpoint handler of notebook-http mode: an app's endpoints, specs and source."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado import web
from tornado.http1connection import HTTP1Connection

from ..base.handlers import GatewayHandler
from ..errors import (
    CellError,
    GatewayError,
    KernelUnavailable,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from ..services.kernels.execution import ExecutionResult
from .app import Live, NotebookApp
from .endpoints import Endpoint, Route
from .request import build_request, hide_request
from .streaming.delivery import Delivery, choose_delivery
from .version import AppVersion

UNBOUNDED_CHUNKS = 2**62  # data_received enforces max_body_size on chunked bodies
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the colors of IPython tracebacks


AppFinder = Callable[[str | None], NotebookApp]  # slug (None: the root app) -> the app
SPEC_PATHS = {"/_api/spec/swagger.json": "swagger", "/_api/spec/openapi.json": "openapi"}
SOURCE_PATH = "/_api/source"


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

    def count(self, sent: int) -> None:
        """The response's body bytes, as sent."""
        self.response_bytes = sent


def app_path(request_path: str, base_path: str, slug: str | None) -> str:
    """The part of a raw request path that the app routes: after base_url and /apps/<slug>."""
    path = request_path[len(base_path) :] if request_path.startswith(base_path) else request_path
    if slug is not None:
        path = path[len("/apps/") :]
        path = path[path.find("/") :] if "/" in path else "/"
    return path or "/"


@web.stream_request_body
class EndpointHandler(GatewayHandler):
    """Answers one request to an app: its spec, its source, or one of its endpoints, whose
    cells run on a kernel borrowed from the app's pool.

    The app (the root one, or `/apps/<slug>`) routes the path itself, from the endpoint list
    of the version it serves. The body is streamed in, so a wrong method (405) or a declared
    Content-Length over max_body_size (413) is answered from the headers alone: no body is
    read, no kernel is borrowed, no app is started, and a client that sent `Expect:
    100-continue` uploads nothing. At most max_body_size bytes of a body are kept.
    """

    def initialize(  # type: ignore[override]
        self,
        find: AppFinder,
        base_path: str,
        allow_source: bool,
        in_apps: bool = False,
        **base: Any,
    ) -> None:
        super().initialize(**base)
        self.find = find
        self.in_apps = in_apps
        self.base_path = base_path
        self.allow_source = allow_source
        self.chunks: list[bytes] = []
        self.received = 0
        self.uploaded = False
        self.document: str | None = None
        self.request_text = ""  # the REQUEST value, once the body is in
        self.endpoint_record: EndpointRecord | None = None  # for metrics and the access log
        self.delivery: Delivery | None = None  # how the endpoint's answer goes out

    def prepare(self) -> None:
        """After the headers, before the body: access checks, the app and route, 405, 413."""
        try:
            super().prepare()
            self.locate()
            if self.request.method != "OPTIONS" and self.document is None:
                self.endpoint()
                declared = self.declared_length()
                if declared > self.endpoint_settings.max_body_size:
                    raise self.too_large(declared)
                self.let_chunks_reach_us()
        except Exception:
            self.forgo_body()
            raise

    def locate(self) -> None:
        """Find the app, the version it serves, and the document or route the path names."""
        slug = self.slug()
        self.app = self.find(slug)
        self.path = app_path(self.request.path, self.base_path, slug)
        version = self.app.version
        if version is None:
            raise KernelUnavailable(f"App {self.app.slug} failed: {self.app.error}")
        self.endpoint_settings = version.endpoint_settings
        kind = SPEC_PATHS.get(self.path)
        if kind is not None or (self.path == SOURCE_PATH and self.allow_source):
            if self.request.method not in ("GET", "HEAD", "OPTIONS"):
                raise MethodNotAllowed(f"{self.request.method} is not allowed here", ["GET"])
            self.document = getattr(version, kind or "source")
            return
        self.route = self.match(version)

    def slug(self) -> str | None:
        """The app's slug; None for the root app."""
        if not self.in_apps:
            return None
        kwargs = getattr(self, "path_kwargs", None)  # unset when tornado refused the method
        if kwargs:
            return kwargs.get("slug")
        return app_path(self.request.path, self.base_path, None)[len("/apps/") :].split("/")[0]

    def match(self, version: AppVersion) -> Route:
        """The route of the request's path in `version`; NotFound if none."""
        found = version.match(self.path)
        if found is None:
            raise NotFound(f"No resource at {self.request.path}")
        self.route, self.path_args_decoded = found
        self.endpoint_record = EndpointRecord(version.endpoint_settings.app, self.route.path)
        return self.route

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

    async def serve(self, *args: str, **kwargs: str) -> None:
        """Answer one request: a document, or its endpoint's cells on a borrowed kernel."""
        self.uploaded = True
        if self._finished:  # refused while the body came in
            return
        if self.document is not None:
            self.set_header("Content-Type", "application/json")
            self.finish(self.document)
            return
        live = await self.app.acquire()
        try:
            await self.run_on(live)
        finally:
            self.app.release(live)

    get = post = put = patch = delete = serve  # type: ignore[assignment]

    async def run_on(self, live: Live) -> None:
        """Run the endpoint on the version and pool the request holds, and answer."""
        self.match(live.version)  # the app may have been reloaded since the headers came
        self.endpoint_settings = live.version.endpoint_settings
        endpoint = self.endpoint()
        self.request_text = request_json = self.request_json(self.path_args_decoded)
        record = self.endpoint_record
        assert record is not None  # set by `match`
        self.delivery = delivery = choose_delivery(self, endpoint, self.endpoint_settings)
        delivery.counted = record.count
        try:
            results = await self.run_cells(live, request_json, record, delivery)
        except GatewayError as err:
            await delivery.fail(err)  # raises it while a JSON error can still be the answer
        else:
            await delivery.end(results)
        finally:
            self.delivery = None  # it points back at this handler: free the body now

    async def run_cells(
        self, live: Live, request_json: str, record: EndpointRecord, delivery: Delivery
    ) -> tuple[ExecutionResult, ExecutionResult | None]:
        """Borrow a kernel and run the endpoint's cells on it through `delivery`."""
        record.queued = True
        queued = time.perf_counter()
        async with live.pool.borrow(self.endpoint_settings.max_queue_wait) as kernel:
            started = time.perf_counter()
            record.queue_wait = started - queued
            record.kernel_id = kernel.kernel_id
            try:
                return await delivery.run(live.fast, kernel, request_json)
            finally:
                record.execution = time.perf_counter() - started

    def on_connection_close(self) -> None:
        """The client left; if it left mid-upload, tornado never calls `on_finish`, so call it
        here, or shutdown would wait for a request that will never run."""
        super().on_connection_close()
        if not self.uploaded:
            self.on_finish()
        elif self.delivery is not None:
            self.delivery.client_gone()

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
        if self.document is not None:
            self.set_header("Content-Type", "application/json")
            return
        self.endpoint()  # raises MethodNotAllowed

    def allowed_methods(self) -> list[str]:
        """The methods the notebook declares for this path, and OPTIONS."""
        if not hasattr(self, "app"):  # tornado refused the method before `prepare`
            try:
                self.locate()
            except GatewayError:
                return ["OPTIONS"]
        if self.document is not None:
            return ["GET", "HEAD", "OPTIONS"]
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

    def compute_etag(self) -> None:
        """No ETag: endpoint answers are computed afresh, hashing them is wasted work."""
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The base JSON error; with show_tracebacks, a failing cell's traceback as plain text."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, CellError) and self.endpoint_settings.show_tracebacks:
            settings = self.endpoint_settings
            lines = [ANSI_ESCAPE.sub("", line) for line in error.traceback]
            lines = hide_request(lines, self.request_text, settings.language)
            error.message = "\n".join([error.message, *lines])
        super().write_error(status_code, **kwargs)
