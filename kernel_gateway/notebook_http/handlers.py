"""Handlers of notebook-http mode: endpoints, the API spec, the notebook source, /public/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tornado import web

from ..base.handlers import GatewayHandler
from ..errors import CellError, MethodNotAllowed, PayloadTooLarge
from ..services.kernels.execution import execute
from ..services.kernels.pool import KernelPool
from .endpoints import Route
from .request_utils import build_request, map_response, request_assignment


@dataclass(frozen=True)
class EndpointSettings:
    """The mode's options every endpoint request needs."""

    language: str
    max_body_size: int
    request_timeout: float
    max_queue_wait: float
    show_tracebacks: bool


class EndpointHandler(GatewayHandler):
    """Runs the cells of one path's endpoints on a pooled kernel and maps their output."""

    def initialize(  # type: ignore[override]
        self, route: Route, pool: KernelPool, options: EndpointSettings, **base: Any
    ) -> None:
        super().initialize(**base)
        self.route = route
        self.pool = pool
        self.options = options

    async def serve(self, **path_args: str) -> None:
        """Answer one request: 405/413 first, then run the endpoint on a borrowed kernel."""
        method = self.request.method or "GET"
        endpoint = self.route.endpoints.get("GET" if method == "HEAD" else method)
        if endpoint is None:
            allowed = list(self.route.methods)
            raise MethodNotAllowed(f"{method} is not allowed on {self.route.path}", allowed)
        body = self.request.body
        if len(body) > self.options.max_body_size:
            raise PayloadTooLarge(
                f"The request body is {len(body)} bytes; the limit is {self.options.max_body_size}"
            )
        request_json = build_request(
            body,
            self.request.headers.get("Content-Type"),
            self.request.query_arguments,
            path_args,
            list(self.request.headers.get_all()),
        )
        codes = [f"{request_assignment(request_json, self.options.language)}\n{endpoint.source}"]
        if endpoint.response_info:
            codes.append(endpoint.response_info)
        async with self.pool.borrow(self.options.max_queue_wait) as kernel:
            results = await execute(kernel, codes, self.options.request_timeout)
        response = map_response(results[0], results[1] if len(results) > 1 else None)
        self.set_status(response.status)
        self.clear_header("Content-Type")
        for name, value in response.headers:
            self.add_header(name, value)
        self.finish(response.body)

    get = post = put = patch = delete = serve  # type: ignore[assignment]

    def compute_etag(self) -> None:
        """No ETag: endpoint answers are computed afresh, hashing them is wasted work."""
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, CellError) and self.options.show_tracebacks and error.traceback:
            error.message = f"{error.message}\n" + "\n".join(error.traceback)
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
