"""The kernel observer's rules, kernel-free: events in, metric values out."""

from __future__ import annotations

from kernel_gateway.operations.kernel_observer import KernelMetricsObserver
from kernel_gateway.operations.metrics import GatewayMetrics
from kernel_gateway.services.kernels.events import KernelEvent, KernelState, Reason

READY, RESTARTING, DEAD, GONE = (
    KernelState.READY,
    KernelState.RESTARTING,
    KernelState.DEAD,
    KernelState.GONE,
)


def change(
    kernel_id: str, name: str, new: KernelState, reason: Reason, duration: float | None = None
) -> KernelEvent:
    return KernelEvent(kernel_id, name, None, new, reason, duration)


NAMES = (
    "kernel_gateway_kernel_starts_total",
    "kernel_gateway_kernel_start_duration_seconds_sum",
    "kernel_gateway_kernel_deaths_total",
    "kernel_gateway_kernel_culls_total",
)


def test_events_become_counts_by_kernel_name() -> None:
    metrics = GatewayMetrics()
    observer = KernelMetricsObserver(metrics)
    events = [
        change("a", "python3", READY, Reason.LAUNCH, 0.5),
        change("b", "python3", READY, Reason.LAUNCH, 1.5),
        change("c", "ir", READY, Reason.LAUNCH, None),
        change("a", "python3", RESTARTING, Reason.AUTO),
        change("a", "python3", READY, Reason.AUTO, 0.4),  # a restart's end is no new start
        change("b", "python3", RESTARTING, Reason.MANUAL),
        change("b", "python3", DEAD, Reason.DIED),
        change("b", "python3", GONE, Reason.DIED),
        change("c", "ir", GONE, Reason.CULLED),
        change("a", "python3", GONE, Reason.SHUTDOWN),
    ]
    for event in events:
        observer.on_event(event)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert {
        kernel: [sample(name, kernel_name=kernel) for name in NAMES] for kernel in ("python3", "ir")
    } == {"python3": [2.0, 2.0, 1.0, None], "ir": [1.0, None, None, 1.0]}
    restarts = {
        source: sample("jupyter_kernel_restarts_total", kernel_name="python3", source=source)
        for source in ("restarter", "user")
    }
    assert restarts == {"restarter": 1.0, "user": 1.0}
