"""The browsable API page: Swagger UI over the gateway's own spec, from files in the package.

`api_page_routes("/_api/docs", "/_api/spec/swagger.json", title)` gives a mode the page and its
assets. The page is behind the same token rules as the spec (its script passes the token it
was opened with to the spec request and to every "Try it out" call); the assets are Swagger
UI's own files and the page's script, public and served offline, no CDN.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template
from typing import Any

from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
from tornado import web

from .handlers import GatewayHandler, check_uri

STATIC = Path(__file__).resolve().parent.parent / "static"
VENDOR_ASSETS = r"(swagger-ui-bundle\.js|swagger-ui\.css|favicon-32x32\.png)"
OWN_ASSETS = r"(api-page\.js)"


def page_template() -> Template:
    """The page's HTML, with $title, $assets, $spec and $base to fill in."""
    return Template((STATIC / "api-page.html").read_text(encoding="utf-8"))


def api_page_routes(page: str, spec: str, title: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The page at `page` over the spec at `spec` (both relative to base_url), and assets."""
    settings = {"template": page_template(), "page": page, "spec": spec, "title": title}
    return [(rf"{page}/?", APIPageHandler, settings), *api_asset_routes(f"{page}/assets")]


def api_asset_routes(folder: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The page's assets under `folder` (relative to base_url)."""
    return [
        (rf"{folder}/{VENDOR_ASSETS}", APIAssetHandler, {"path": swagger_ui_path}),
        (rf"{folder}/{OWN_ASSETS}", APIAssetHandler, {"path": str(STATIC)}),
    ]


class APIPageHandler(GatewayHandler):
    """The page itself, with its asset and spec URLs under the base_url it was reached at."""

    def initialize(  # type: ignore[override]
        self, template: Template, page: str, spec: str, title: str, **base: Any
    ) -> None:
        super().initialize(**base)
        self.template = template
        self.page = page
        self.spec = spec
        self.title = title

    def get(self) -> None:
        self.render_page(self.page, self.spec, self.title, f"{self.page}/assets")

    def render_page(self, page: str, spec: str, title: str, assets: str) -> None:
        """Answer the page for the spec at `spec`, as reached at `page` (relative paths)."""
        root = self.request.path.rstrip("/").removesuffix(page)
        values = {
            "title": title,
            "assets": f"{root}{assets}",
            "spec": f"{root}{spec}",
            "base": root or "/",
        }
        page = self.template.substitute({k: html.escape(v) for k, v in values.items()})
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(page)


class APIAssetHandler(GatewayHandler, web.StaticFileHandler):
    """Swagger UI's files and the page's script: public, no token needed."""

    def initialize(self, path: str, **base: Any) -> None:  # type: ignore[override]
        GatewayHandler.initialize(self, **base)
        web.StaticFileHandler.initialize(self, path)

    def prepare(self) -> None:
        self.begin()
        check_uri(self.request)

    get = web.StaticFileHandler.get
    head = web.StaticFileHandler.head  # type: ignore[assignment]
