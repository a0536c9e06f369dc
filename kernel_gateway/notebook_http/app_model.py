"""AppModel: what /_api/apps shows of an app, a frozen value for handlers and observers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
