"""The operations side of one gateway: its probe and metrics routes and what feeds them.

The app builds one `Operations` with its tracker, kernel manager and mode; asks it for routes
and the log function; and calls `start` before its mode starts and `stop` at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from tornado import web

from ..personality import Route
from ..services.kernels.manager import MappingKernelManager
from ..services.kernels.pool import KernelPool
from ..serving import RequestTracker
from .gauges import StateGauges
from .health import HealthHandler, Readiness, ReadinessHandler
from .kernel_observer import KernelMetricsObserver, observe_manager
from .metrics import GatewayMetrics, MetricsHandler

log = logging.getLogger(__name__)


class Operations:
    """Probes always; metrics (routes, request observation, kernel observer) when enabled."""

    def __init__(
        self,
        tracker: RequestTracker,
        manager: MappingKernelManager,
        missing: Callable[[], list[str]],
        pools: Callable[[], Mapping[str, KernelPool]],
        access_log: Callable[[web.RequestHandler], None],
        enable_metrics: bool = True,
        metrics_auth: bool = True,
    ) -> None:
        """`metrics_auth`: whether /metrics needs the token (when there is one)."""
        self.readiness = Readiness(tracker, missing)
        self.access_log = access_log
        self.manager = manager
        self.metrics_auth = metrics_auth
        self.metrics: GatewayMetrics | None = None
        self._unsubscribe: Callable[[], None] | None = None
        if enable_metrics:
            self.metrics = GatewayMetrics()
            self.metrics.registry.register(StateGauges(manager, pools))

    def probe_routes(self) -> list[Route]:
        """The routes served under base_url and also at the root."""
        return [
            (r"/healthz", HealthHandler, {}),
            (r"/readyz", ReadinessHandler, {"readiness": self.readiness}),
        ]

    def routes(self) -> list[Route]:
        """Every operations route (relative, the app prefixes base_url)."""
        routes = self.probe_routes()
        if self.metrics is not None:
            settings = {"metrics": self.metrics, "metrics_auth": self.metrics_auth}
            routes.append((r"/metrics", MetricsHandler, settings))
        return routes

    def log_function(self, handler: web.RequestHandler) -> None:
        """Tornado's log_function: record the request's metrics, then log its access line."""
        if self.metrics is not None:
            try:
                self.metrics.observe_request(handler)
            except Exception:  # metrics never fail a request
                log.exception("Request metrics failed for %s", type(handler).__name__)
        self.access_log(handler)

    def start(self) -> None:
        """Start hearing the kernel manager's events (before the mode starts its kernels)."""
        if self.metrics is not None:
            observer = KernelMetricsObserver(self.metrics)
            self._unsubscribe = observe_manager(self.manager, observer)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
