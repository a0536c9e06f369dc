"""Handlers of notebook-http mode: an app's endpoints, specs and source; public files."""

from __future__ import annotations

import os
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
from ..services.kernels.failures import cell_failure
from .app import Live, NotebookApp
from .endpoints import Endpoint, Route
from .request import build_request
from .response import EndpointResponse, map_response
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
        self.endpoint_record: EndpointRecord | None = None  # for metrics and the access log

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
        """Run the endpoint on the version and pool the request holds."""
        self.match(live.version)  # the app may have been reloaded since the headers came
        self.endpoint_settings = settings = live.version.endpoint_settings
        endpoint = self.endpoint()
        request_json = self.request_json(self.path_args_decoded)
        record = self.endpoint_record
        assert record is not None  # set by `match`
        record.queued = True
        queued = time.perf_counter()
        async with live.pool.borrow(settings.max_queue_wait) as kernel:
            started = time.perf_counter()
            record.queue_wait = started - queued
            record.kernel_id = kernel.kernel_id
            result, info = await live.fast.serve(kernel, endpoint, request_json, settings)
            record.execution = time.perf_counter() - started
        if result.error:  # named by its cell, with the line of the user's code
            raise cell_failure(result.error, endpoint.cell_index, endpoint.source)
        self.write_response(map_response(result, info))

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

    def write_response(self, response: EndpointResponse) -> None:
        """Send a mapped response: its status, its headers only (one Content-Type), its body."""
        self.set_status(response.status)
        self.clear_header("Content-Type")
        for name, value in response.headers:
            self.add_header(name, value)
        if self.endpoint_record is not None:
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


class PublicFileHandler(GatewayHandler, web.StaticFileHandler):
    """Files under static_path at /public/, behind the same checks and JSON errors."""

    def initialize(self, path: str, **base: Any) -> None:  # type: ignore[override]
        GatewayHandler.initialize(self, **base)
        web.StaticFileHandler.initialize(self, path)

    get = web.StaticFileHandler.get
    head = web.StaticFileHandler.head  # type: ignore[assignment]


class AppPublicFileHandler(GatewayHandler, web.StaticFileHandler):
    """`/apps/<slug>/public/...`: files under the app folder's public/, read-only. A path
    that leads outside it, through `..` or a symlink, is never served."""

    def initialize(  # type: ignore[override]
        self, find: AppFinder, base_path: str, **base: Any
    ) -> None:
        GatewayHandler.initialize(self, **base)
        web.StaticFileHandler.initialize(self, "/nonexistent")
        self.find = find

    def prepare(self) -> None:
        super().prepare()
        public = self.find(self.path_kwargs["slug"]).public
        if public is None:
            raise NotFound(f"No resource at {self.request.path}")
        self.root = str(public)

    async def get(self, slug: str, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        await web.StaticFileHandler.get(self, path, include_body)

    async def head(self, slug: str, path: str) -> None:  # type: ignore[override]
        await web.StaticFileHandler.get(self, path, include_body=False)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """tornado's checks, and the file's real path (symlinks resolved) inside root."""
        real_root = os.path.realpath(root)
        real = os.path.realpath(absolute_path)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise NotFound(f"No resource at {self.request.path}")
        return super().validate_absolute_path(root, absolute_path)
