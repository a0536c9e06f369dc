"""The gateway's Prometheus metrics: one registry per app, fed by requests and kernel events.

Names follow jupyter_server where it has one (`http_request_duration_seconds`,
`kernel_currently_running_total`, `jupyter_kernel_restarts`); ours start `kernel_gateway_`.
Every label value is bounded: handler class names, route patterns (never raw paths), known
HTTP methods (anything else is `OTHER`), status codes, kernel spec names and app names.
docs/operations.md lists each metric with its meaning.
"""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from tornado import web

from ..base.handlers import GatewayHandler, check_access, check_uri

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
START_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)


class EndpointRecord(Protocol):
    """What a notebook endpoint request tells the metrics (notebook-http's handler has it)."""

    app: str
    endpoint: str
    queued: bool  # it asked its pool for a kernel
    queue_wait: float | None  # seconds waited for a kernel; None if it never got one
    execution: float | None  # seconds the kernel took; None if it never ran
    response_bytes: int


class GatewayMetrics:
    """The metrics objects, in a registry of their own (no process-wide state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.request_duration = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests, by method, handler and status code",
            ["method", "handler", "status_code"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.kernel_restarts = Counter(
            "jupyter_kernel_restarts",
            "Kernel restarts, by kernel name and source (user or restarter)",
            ["kernel_name", "source"],
            registry=registry,
        )
        self.kernel_starts = Counter(
            "kernel_gateway_kernel_starts",
            "Kernels launched and ready (warm pool and prespawned ones included)",
            ["kernel_name"],
            registry=registry,
        )
        self.kernel_start_duration = Histogram(
            "kernel_gateway_kernel_start_duration_seconds",
            "Seconds from launching a kernel to it answering (and being seeded)",
            ["kernel_name"],
            buckets=START_BUCKETS,
            registry=registry,
        )
        self.kernel_culls = Counter(
            "kernel_gateway_kernel_culls",
            "Kernels shut down for being idle too long",
            ["kernel_name"],
            registry=registry,
        )
        self.kernel_deaths = Counter(
            "kernel_gateway_kernel_deaths",
            "Kernels whose process died (before any restart)",
            ["kernel_name"],
            registry=registry,
        )
        self._endpoint_metrics(registry)

    def _endpoint_metrics(self, registry: CollectorRegistry) -> None:
        """The notebook-http metrics, labelled by app and endpoint (the route pattern)."""
        self.endpoint_requests = Counter(
            "kernel_gateway_endpoint_requests",
            "Notebook endpoint requests, by app, endpoint, method and status code",
            ["app", "endpoint", "method", "status_code"],
            registry=registry,
        )
        self.execution_duration = Histogram(
            "kernel_gateway_execution_duration_seconds",
            "Seconds a kernel spent running an endpoint's cells",
            ["app", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "kernel_gateway_queue_wait_seconds",
            "Seconds a request waited for a free kernel of its app's pool",
            ["app"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.timeouts = Counter(
            "kernel_gateway_endpoint_timeouts",
            "Endpoint requests answered 504: their cells ran past request_timeout",
            ["app", "endpoint"],
            registry=registry,
        )
        self.queue_rejections = Counter(
            "kernel_gateway_queue_rejections",
            "Endpoint requests answered 503 without ever getting a kernel",
            ["app"],
            registry=registry,
        )
        self.response_bytes = Counter(
            "kernel_gateway_response_bytes",
            "Bytes of endpoint response bodies",
            ["app", "endpoint"],
            registry=registry,
        )

    def observe_request(self, handler: web.RequestHandler) -> None:
        """Record one finished request (the app's log function calls this)."""
        method = handler.request.method or "GET"
        method = method if method in METHODS else "OTHER"
        status = str(handler.get_status())
        self.request_duration.labels(method, type(handler).__name__, status).observe(
            handler.request.request_time()
        )
        record: EndpointRecord | None = getattr(handler, "endpoint_record", None)
        if record is not None:
            self.observe_endpoint(record, method, status)

    def observe_endpoint(self, record: EndpointRecord, method: str, status: str) -> None:
        """Record one notebook endpoint request."""
        app, endpoint = record.app, record.endpoint
        self.endpoint_requests.labels(app, endpoint, method, status).inc()
        if record.queue_wait is not None:
            self.queue_wait.labels(app).observe(record.queue_wait)
        elif record.queued and status == "503":
            self.queue_rejections.labels(app).inc()
        if record.execution is not None:
            self.execution_duration.labels(app, endpoint).observe(record.execution)
        if status == "504":
            self.timeouts.labels(app, endpoint).inc()
        self.response_bytes.labels(app, endpoint).inc(record.response_bytes)


class MetricsHandler(GatewayHandler):
    """`GET /metrics`: the Prometheus text format; behind the token unless metrics_auth is off.

    Served while the gateway starts and drains too: a scrape then is still worth having.
    """

    def initialize(  # type: ignore[override]
        self, metrics: GatewayMetrics, metrics_auth: bool, **base: Any
    ) -> None:
        super().initialize(**base)
        self.metrics = metrics
        self.metrics_auth = metrics_auth

    def prepare(self) -> None:
        self.begin()
        if self.metrics_auth:
            check_access(self.request, self.policy)
        else:
            check_uri(self.request)

    def get(self) -> None:
        """The format the scraper's Accept header asks for (text 0.0.4 by default)."""
        encode, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.finish(encode(self.metrics.registry))
