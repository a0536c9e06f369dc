"""Gauges read when Prometheus scrapes: kernels running, warm pool, websockets, pools by app.

They are computed from the kernel manager's and the mode's public state at scrape time, so
they can't drift from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..services.kernels.manager import MappingKernelManager
from ..services.kernels.pool import KernelPool


class StateGauges(Collector):
    """Gauges of the kernel manager and the mode's pools (by app), read at each scrape."""

    def __init__(
        self, manager: MappingKernelManager, pools: Callable[[], Mapping[str, KernelPool]]
    ) -> None:
        self.manager = manager
        self.pools = pools

    def collect(self) -> Iterable[Metric]:
        yield self.kernels_running()
        warm = self.manager.warm_pool
        yield GaugeMetricFamily(
            "kernel_gateway_warm_pool_size",
            "Started, seeded kernels waiting in the warm pool (jupyter-websocket mode)",
            value=len(warm.members) if warm is not None else 0,
        )
        yield GaugeMetricFamily(
            "kernel_gateway_websocket_connections",
            "Websockets attached to kernels",
            value=sum(kernel.clients for kernel in self.manager.kernels()),
        )
        yield from self.pool_gauges()

    def kernels_running(self) -> Metric:
        """`kernel_currently_running_total` by kernel name, as jupyter_server reports it."""
        names = Counter(kernel.name for kernel in self.manager.kernels())
        family = GaugeMetricFamily(
            "kernel_currently_running_total",
            "Kernels running (handed out), by kernel name",
            labels=["type"],
        )
        for name, count in sorted(names.items()):
            family.add_metric([name], count)
        return family

    def pool_gauges(self) -> Iterable[Metric]:
        """Kernels, busy kernels and queued requests of each notebook-http pool, by app."""
        families = {
            "kernels": GaugeMetricFamily(
                "kernel_gateway_pool_kernels", "Seeded kernels in the app's pool", labels=["app"]
            ),
            "busy": GaugeMetricFamily(
                "kernel_gateway_pool_busy", "Pool kernels lent to a request now", labels=["app"]
            ),
            "queued": GaugeMetricFamily(
                "kernel_gateway_pool_queued",
                "Requests waiting for a kernel of the app's pool",
                labels=["app"],
            ),
        }
        for app, pool in sorted(self.pools().items()):
            families["kernels"].add_metric([app], len(pool.members))
            families["busy"].add_metric([app], pool.busy)
            families["queued"].add_metric([app], pool.queued)
        return families.values()
