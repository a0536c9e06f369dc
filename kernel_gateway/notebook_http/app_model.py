"""AppModel: what /_api/apps shows of an app, a frozen value for handlers and observers;
`model_of` reads it off a NotebookApp."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..services.kernels.messages import iso_time

if TYPE_CHECKING:
    from .app import NotebookApp


@dataclass(frozen=True)
class AppModel:
    """What /_api/apps shows of an app."""

    slug: str
    state: str
    version: str | None
    kernels: int
    busy: int
    queued: int
    last_request: str | None
    endpoints: tuple[tuple[str, str], ...]
    error: str | None
    ephemeral: bool = False
    expires_at: str | None = None
    server: dict[str, Any] | None = None  # a served app's server: address, status, restarts

    def to_json(self) -> dict[str, Any]:
        """The model as JSON, endpoints as [{method, path}]."""
        value: dict[str, Any] = dict(self.__dict__)
        value["endpoints"] = [{"method": m, "path": p} for m, p in self.endpoints]
        return value


def model_of(app: NotebookApp, ephemeral: bool, ttl: float) -> AppModel:
    """What /_api/apps shows of `app` now (`ttl`: an ephemeral app's time to live)."""
    pool = app.live.pool if app.live is not None else None
    server = app.live.server if app.live is not None else None
    version = app.version
    expires = None
    if ephemeral:
        expires = iso_time((app.last_request or time.time()) + ttl)
    served = version is not None and version.settings.serve is not None
    return AppModel(
        slug=app.slug,
        state=app.state,
        version=version.digest if version else None,
        kernels=pool.idle + pool.busy if pool else 0,
        busy=pool.busy if pool else 0,
        queued=pool.queued if pool else 0,
        last_request=iso_time(app.last_request) if app.last_request else None,
        endpoints=tuple(
            (method, route.path)
            for route in (version.routes if version else ())
            for method in route.methods
        ),
        error=app.error,
        ephemeral=ephemeral,
        expires_at=expires,
        server=server.model() if server is not None else idle_server(app) if served else None,
    )


def idle_server(app: NotebookApp) -> dict[str, Any]:
    """The server part of a served app's model while it has no server that answered yet."""
    status = "starting" if app.state == "starting" else "stopped"
    return {"address": None, "status": status, "restarts": 0, "last_restart": None}
