"""`/apps/<slug>/_api/docs`: the browsable API page of one app, over that app's own spec.

The page is the root's (base/api_page.py) with the app's spec; its assets are served once for
every app at `/_api/docs/assets/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..base.api_page import APIPageHandler, api_asset_routes, page_template
from .app import NotebookApp

ASSETS = "/_api/docs/assets"


def app_page_routes(slug: str, find: Callable[[str], NotebookApp]) -> list[tuple[str, type, Any]]:
    """Routes of every app's page (`slug` is the route's pattern for an app's slug) and of
    the assets they share."""
    settings = {"template": page_template(), "page": "", "spec": "", "title": "", "find": find}
    return [(rf"/apps/{slug}/_api/docs/?", AppAPIPageHandler, settings), *api_asset_routes(ASSETS)]


class AppAPIPageHandler(APIPageHandler):
    """The page of the app named in the path; 404 for an app that doesn't exist."""

    def initialize(self, find: Callable[[str], NotebookApp], **settings: Any) -> None:  # type: ignore[override]
        super().initialize(**settings)
        self.find = find

    def get(self, slug: str) -> None:  # type: ignore[override]
        self.find(slug)  # NotFound for an unknown slug
        prefix = f"/apps/{slug}"
        self.render_page(f"{prefix}/_api/docs", f"{prefix}/_api/spec/swagger.json", slug, ASSETS)
