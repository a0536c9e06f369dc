"""Kernel events -> metrics: starts (and how long they took), restarts, deaths, culls.

`KernelMetricsObserver.on_event` hears every `KernelEvent` the kernel manager announces
(`manager.events`); `observe_manager` subscribes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..services.kernels.events import KernelEvent, KernelState, Reason
from ..services.kernels.manager import MappingKernelManager
from .metrics import GatewayMetrics

log = logging.getLogger(__name__)


class KernelMetricsObserver:
    """Counts kernel events by kernel name."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def on_event(self, event: KernelEvent) -> None:
        metrics, name = self.metrics, event.kernel_name
        if event.new is KernelState.READY and event.reason is Reason.LAUNCH:
            metrics.kernel_starts.labels(name).inc()
            if event.duration is not None:
                metrics.kernel_start_duration.labels(name).observe(event.duration)
        elif event.new is KernelState.RESTARTING:
            source = "restarter" if event.reason is Reason.AUTO else "user"
            metrics.kernel_restarts.labels(name, source).inc()
        elif event.new is KernelState.DEAD:
            metrics.kernel_deaths.labels(name).inc()
        elif event.new is KernelState.GONE and event.reason is Reason.CULLED:
            metrics.kernel_culls.labels(name).inc()


def observe_manager(
    manager: MappingKernelManager, observer: KernelMetricsObserver
) -> Callable[[], None]:
    """Subscribe `observer` to the manager's kernel events; return what unsubscribes it."""
    return manager.events.subscribe(observer.on_event)
