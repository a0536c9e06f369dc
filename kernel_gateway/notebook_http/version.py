"""One version of an app's notebook, parsed once: endpoints, router, specs, settings.

Everything a request needs that does not depend on kernels is computed here when the
notebook is read, so a notebook that doesn't parse is refused before any kernel starts, and
a reload swaps one whole `AppVersion` for another.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import StartupError
from ..seed import Notebook, cell_positions
from .apps.settings import AppSettings, read_settings
from .cell.parser import ParsedNotebook, cell_source, notebook_language, prefix_for
from .endpoints import Route, group_routes
from .streaming.writer import StreamSettings
from .swagger.builders import build_openapi, build_swagger

CELL_PARSERS = {
    "kernel_gateway.notebook_http.cell.parser",
    "kernel_gateway.notebook_http.swagger.parser",
}


@dataclass(frozen=True)
class EndpointSettings:
    """The options every endpoint request of one app version needs."""

    language: str
    inline_response_info: bool
    max_body_size: int
    request_timeout: float
    max_queue_wait: float
    show_tracebacks: bool
    comment_prefix: str = "#"
    app: str = "/"  # the app's name in metrics and logs
    fast_path: bool = True  # requests try the IPython request runner first
    streaming: StreamSettings = field(default_factory=StreamSettings)  # size, streaming


@dataclass(frozen=True)
class ParseOptions:
    """What the mode gives every app: the parser, limits and default settings."""

    cell_parser: str
    comment_prefix: dict[str, str]
    max_body_size: int
    show_tracebacks: bool
    defaults: AppSettings
    read_metadata: bool = True  # apps read metadata.kernel_gateway; the root app doesn't
    fast_path: bool = True
    streaming: StreamSettings = field(default_factory=StreamSettings)


@dataclass(frozen=True)
class AppVersion:
    """A parsed notebook and all that is built from its endpoint list."""

    digest: str
    notebook: Notebook
    parsed: ParsedNotebook
    routes: tuple[Route, ...]
    settings: AppSettings
    endpoint_settings: EndpointSettings
    swagger: str
    openapi: str
    source: str
    patterns: tuple[re.Pattern[str], ...]
    seed_positions: tuple[int, ...] = ()  # of the seed cells in the notebook, for messages

    @property
    def kernel_name(self) -> str | None:
        """The kernel the notebook asks for, None for the gateway's default."""
        spec = self.notebook.get("metadata", {}).get("kernelspec", {})
        name = spec.get("name") if isinstance(spec, dict) else None
        return name if isinstance(name, str) and name else None

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route of a raw (percent-encoded) request path, and its decoded parameters."""
        for pattern, route in zip(self.patterns, self.routes, strict=True):
            found = pattern.match(path)
            if found is not None:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def content_digest(data: bytes) -> str:
    """The version of a notebook: a hash of its bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def decode_notebook(data: bytes, path: Path) -> str:
    """A notebook file's text; StartupError when it isn't UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise StartupError(f"{path.name} is not UTF-8: {err}") from err


def parse_with(options: ParseOptions, notebook: Notebook) -> ParsedNotebook:
    """Endpoints and seed code of `notebook` by the configured cell parser."""
    if options.cell_parser not in CELL_PARSERS:
        valid = ", ".join(sorted(CELL_PARSERS))
        raise StartupError(f"Unknown cell_parser {options.cell_parser!r}; valid values: {valid}")
    parser = importlib.import_module(options.cell_parser)
    parsed: ParsedNotebook = parser.parse_notebook(notebook, options.comment_prefix)
    return parsed


def served_cells(notebook: Notebook) -> ParsedNotebook:
    """A served app's notebook: every code cell is seed code (they start its server), none is
    an endpoint, whatever its first line says."""
    cells = notebook.get("cells", [])
    seeds = tuple(cell_source(cell) for cell in cells if cell.get("cell_type") == "code")
    title = str(notebook.get("metadata", {}).get("title") or "")
    return ParsedNotebook(
        endpoints=(), seed_cells=seeds, language=notebook_language(notebook), title=title
    )


def app_name(mount_url: str | None, slug: str) -> str:
    """The app's name in metrics and logs: `/` for the root notebook, else its slug."""
    return "/" if mount_url is None else slug


def with_mount(document: dict[str, Any], mount_url: str | None) -> dict[str, Any]:
    """A spec whose clients call the app's URLs: basePath (Swagger) or servers (OpenAPI)."""
    if mount_url is None:
        return document
    if "swagger" in document:
        return {**document, "basePath": mount_url}
    return {**document, "servers": [{"url": mount_url}]}


def build_version(
    notebook: Notebook,
    digest: str,
    options: ParseOptions,
    title: str,
    mount_url: str | None = None,
    text: str | None = None,
) -> AppVersion:
    """Parse `notebook` and build its router and specs; StartupError naming what is wrong.

    `mount_url` is the path the app is served under (None at the root: specs unchanged);
    `text` is the notebook as its file has it, served at _api/source.
    """
    settings = options.defaults
    if options.read_metadata:
        settings = read_settings(notebook.get("metadata", {}), options.defaults)
    parsed = parse_with(options, notebook) if settings.serve is None else served_cells(notebook)
    routes = tuple(group_routes(parsed.endpoints))
    name = app_name(mount_url, title)
    title = parsed.title or title
    swagger = build_swagger(parsed.endpoints, title, parsed.spec)
    openapi = build_openapi(parsed.endpoints, title, parsed.spec)
    return AppVersion(
        digest=digest,
        notebook=notebook,
        parsed=parsed,
        routes=routes,
        settings=settings,
        endpoint_settings=EndpointSettings(
            language=parsed.language,
            inline_response_info=parsed.language.lower() == "python",
            max_body_size=options.max_body_size,
            request_timeout=settings.request_timeout,
            max_queue_wait=settings.max_queue_wait,
            show_tracebacks=options.show_tracebacks,
            app=name,
            comment_prefix=prefix_for(parsed.language, dict(options.comment_prefix.items())),
            fast_path=options.fast_path,
            streaming=options.streaming,
        ),
        swagger=json.dumps(with_mount(swagger, mount_url)),
        openapi=json.dumps(with_mount(openapi, mount_url)),
        source=text if text is not None else json.dumps(notebook),
        patterns=tuple(re.compile(route.pattern) for route in routes),
        seed_positions=cell_positions(notebook, parsed.seed_cells),
    )
