"""`/healthz` and `/readyz`: what a load balancer or Kubernetes asks before sending traffic.

Both answer without a token and touch no kernel. `/healthz` says the process serves; `/readyz`
says whether the gateway can serve its purpose now: not while it starts or drains (from the
first moment of the shutdown grace period), nor while its mode says something is missing (an
empty pool). Neither reveals kernel ids, paths or code: only short fixed words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..base.handlers import GatewayHandler, check_uri
from ..serving import RequestTracker

STARTING = "starting"
DRAINING = "draining"


@dataclass(frozen=True)
class Readiness:
    """The server's phase (from the request tracker) and the mode's own check."""

    tracker: RequestTracker
    mode_missing: Callable[[], list[str]]

    def missing(self) -> list[str]:
        """What keeps the gateway from serving now; empty when it is ready."""
        if self.tracker.closing:
            return [DRAINING]
        if self.tracker.starting:
            return [STARTING]
        return self.mode_missing()


class ProbeHandler(GatewayHandler):
    """Base of the probes: no token, not tracked, served while starting and draining; their
    access lines are DEBUG whatever the status (a 503 while starting is no error)."""

    quiet_access_log = True

    def prepare(self) -> None:
        self.begin()
        check_uri(self.request)
        self.set_header("Cache-Control", "no-store")


class HealthHandler(ProbeHandler):
    """`GET /healthz`: 200 while the process serves."""

    def get(self) -> None:
        self.write_json({"status": "ok"})


class ReadinessHandler(ProbeHandler):
    """`GET /readyz`: 200 when ready, else 503 naming what is missing."""

    def initialize(self, readiness: Readiness, **base: object) -> None:  # type: ignore[override]
        super().initialize(**base)  # type: ignore[arg-type]
        self.readiness = readiness

    def get(self) -> None:
        missing = self.readiness.missing()
        if not missing:
            self.write_json({"status": "ready"})
            return
        body = {
            "reason": "Service Unavailable",
            "message": "Not ready: " + ", ".join(missing),
            "missing": missing,
        }
        self.write_json(body, status=503)
