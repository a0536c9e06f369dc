"""Files served as they are: /public/ (static_path) and each app's public/ folder."""

from __future__ import annotations

import os
from typing import Any

from tornado import web

from ..base.handlers import GatewayHandler
from ..errors import NotFound
from .handlers import AppFinder


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
