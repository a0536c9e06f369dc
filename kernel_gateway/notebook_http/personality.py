"""NotebookHTTPPersonality: the seed notebook's annotated cells as an HTTP API.

Parsing happens when the personality is made, so a bad notebook stops start-up before any
kernel starts; `start()` then fills the pool with seeded kernels.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Integer, Unicode

from ..base.api_page import api_page_routes
from ..config import Seconds
from ..errors import StartupError
from ..personality import GatewayContext, Personality, Route
from ..seed import cell_positions
from ..services.kernels.pool import KernelPool
from .cell.parser import ParsedNotebook, prefix_for
from .endpoints import group_routes
from .fastpath.pool import FastPath
from .handlers import (
    EndpointHandler,
    EndpointSettings,
    PublicFileHandler,
    SourceHandler,
    SpecHandler,
)
from .swagger.builders import build_openapi, build_swagger

CELL_PARSERS = {
    "kernel_gateway.notebook_http.cell.parser",
    "kernel_gateway.notebook_http.swagger.parser",
}
MiB = 1024 * 1024
ROOT_APP = "/"  # the app name of the seed notebook, in metrics


class NotebookHTTPPersonality(Personality):
    """Serves the cells of the seed notebook annotated `# METHOD /path` as endpoints."""

    mode_name = "notebook-http"

    allow_notebook_download = Bool(
        False, help="Serve the notebook at /_api/source (KG_ALLOW_NOTEBOOK_DOWNLOAD env var)"
    ).tag(config=True, env="KG_ALLOW_NOTEBOOK_DOWNLOAD")
    static_path = Unicode(
        None,
        allow_none=True,
        help="Serve the files under this folder at /public/ (KG_STATIC_PATH env var)",
    ).tag(config=True, env="KG_STATIC_PATH")
    cell_parser = Unicode(
        "kernel_gateway.notebook_http.cell.parser",
        help="The module that finds endpoints in the notebook: "
        "'kernel_gateway.notebook_http.cell.parser' (`# GET /path` cells) or "
        "'kernel_gateway.notebook_http.swagger.parser' (an OpenAPI document in the first cell "
        "and `# operationId: id` cells) (KG_CELL_PARSER env var)",
    ).tag(config=True, env="KG_CELL_PARSER")
    comment_prefix = Dict(
        {},
        help="Kernel language -> line comment prefix, added to the built-in table "
        "(`#` for python, r, julia, bash; `//` for scala, java, javascript, go, c++)",
    ).tag(config=True)
    max_body_size = Integer(
        10 * MiB,
        min=0,
        help="Largest request body in bytes; larger ones get 413 (KG_MAX_BODY_SIZE env var)",
    ).tag(config=True, env="KG_MAX_BODY_SIZE")
    request_timeout = Seconds(
        0.0,
        help="Seconds a request's cells may run before it gets 504 and the kernel is "
        "interrupted; 0 means no limit (KG_REQUEST_TIMEOUT env var)",
    ).tag(config=True, env="KG_REQUEST_TIMEOUT")
    max_queue_wait = Seconds(
        0.0,
        help="Seconds a request may wait for a free kernel before it gets 503; 0 means "
        "as long as it takes (KG_MAX_QUEUE_WAIT env var)",
    ).tag(config=True, env="KG_MAX_QUEUE_WAIT")
    fast_path = Bool(
        True,
        help="Serve requests on IPython kernels through a request runner installed in each "
        "kernel at seed time (one comm message per request, no execute_request); other "
        "kernels use the execute path either way (KG_FAST_PATH env var)",
    ).tag(config=True, env="KG_FAST_PATH")
    show_tracebacks = Bool(
        False,
        help="Include the kernel's traceback in the 500 answer of a failing cell "
        "(KG_SHOW_TRACEBACKS env var)",
    ).tag(config=True, env="KG_SHOW_TRACEBACKS")

    def __init__(self, context: GatewayContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        if context.seed_notebook is None:
            raise StartupError(
                "notebook-http mode serves a notebook: give one with --seed_uri=NOTEBOOK.ipynb "
                "(or KG_SEED_URI)"
            )
        self.parsed = self.parse()
        self.routes = group_routes(self.parsed.endpoints)
        size = context.prespawn_count if context.prespawn_count else 1
        seeds = self.parsed.seed_cells
        self.fast = FastPath(self.fast_path)
        self.pool = KernelPool(
            context.kernel_manager,
            size,
            context.default_kernel_name or None,
            seed_cells=seeds,
            seed_positions=cell_positions(context.seed_notebook, seeds),
            prepare=self.fast.prepare,
        )

    def parse(self) -> ParsedNotebook:
        """Endpoints and seed code of the seed notebook, by the configured cell parser."""
        if self.cell_parser not in CELL_PARSERS:
            valid = ", ".join(sorted(CELL_PARSERS))
            raise StartupError(f"Unknown cell_parser {self.cell_parser!r}; valid values: {valid}")
        parser = importlib.import_module(self.cell_parser)
        parsed: ParsedNotebook = parser.parse_notebook(
            self.context.seed_notebook, self.comment_prefix
        )
        return parsed

    def title(self) -> str:
        uri = self.context.seed_uri or "notebook"
        return self.parsed.title or Path(uri.rstrip("/").split("/")[-1]).stem

    def handlers(self) -> list[Route]:
        settings = EndpointSettings(
            language=self.parsed.language,
            inline_response_info=self.parsed.language.lower() == "python",
            max_body_size=self.max_body_size,
            request_timeout=self.request_timeout,
            max_queue_wait=self.max_queue_wait,
            show_tracebacks=self.show_tracebacks,
            comment_prefix=self.line_comment(),
            app=ROOT_APP,
        )
        endpoints = self.parsed.endpoints
        swagger = build_swagger(endpoints, self.title(), self.parsed.spec)
        openapi = build_openapi(endpoints, self.title(), self.parsed.spec)
        routes: list[Route] = [
            (r"/_api/spec/swagger\.json", SpecHandler, {"document": json.dumps(swagger)}),
            (r"/_api/spec/openapi\.json", SpecHandler, {"document": json.dumps(openapi)}),
            *api_page_routes("/_api/docs", "/_api/spec/swagger.json", self.title()),
        ]
        if self.allow_notebook_download:
            source = self.context.seed_text or json.dumps(self.context.seed_notebook)
            routes.append((r"/_api/source", SourceHandler, {"document": source}))
        if self.static_path:
            routes.append((r"/public/(.*)", PublicFileHandler, {"path": self.static_path}))
        for route in self.routes:
            routes.append(
                (
                    route.pattern,
                    EndpointHandler,
                    {
                        "route": route,
                        "pool": self.pool,
                        "endpoint_settings": settings,
                        "fast_path": self.fast,
                    },
                )
            )
        return routes

    def summary(self, url: str) -> list[str]:
        """One line per endpoint (method and URL), then where the API's spec and page are."""
        lines = [
            f"Endpoint {method} {url}{route.path}"
            for route in self.routes
            for method in route.methods
        ]
        spec = f"{url}/_api/spec"
        lines.append(
            f"API spec: {spec}/swagger.json (Swagger 2.0), {spec}/openapi.json (OpenAPI 3.1)"
        )
        lines.append(f"API page: {url}/_api/docs")
        if self.allow_notebook_download:
            lines.append(f"Notebook: {url}/_api/source")
        return lines

    def line_comment(self) -> str:
        """The line-comment prefix of the notebook's language (annotations start with it)."""
        overrides: dict[str | None, str] = {}
        overrides.update(self.comment_prefix)
        return prefix_for(self.parsed.language, overrides)

    def server_body_limit(self) -> int:
        return self.max_body_size + MiB

    def pools(self) -> dict[str, KernelPool]:
        return {ROOT_APP: self.pool}

    def missing(self) -> list[str]:
        """Not ready while the root notebook's pool has no seeded kernel."""
        return [] if self.pool.members else ["pool_empty"]

    async def start(self) -> None:
        await self.pool.start()
        self.log.info("Kernel pool of %d: requests take %s", self.pool.size, self.fast.path_name())

    async def stop(self) -> None:
        """Shut the pool's kernels down: the app's drain has waited for requests already."""
        await self.pool.stop(timeout=0)
