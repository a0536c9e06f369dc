"""The culling rule: which kernels have been idle long enough to shut down."""

from __future__ import annotations

from dataclasses import dataclass

from kernel_gateway.services.kernels.culling import idle_kernel_ids

NOW = 10_000.0
TIMEOUT = 600.0


@dataclass
class Activity:
    """A stand-in for what the rule reads of a kernel connection (not a kernel)."""

    last_activity: float
    execution_state: str = "idle"
    clients: int = 0


def culled(kernels: dict[str, Activity], cull_busy: bool, cull_connected: bool) -> list[str]:
    return list(idle_kernel_ids(kernels, NOW, TIMEOUT, cull_busy, cull_connected))


def test_only_kernels_idle_for_over_the_timeout_are_culled() -> None:
    kernels = {
        "recent": Activity(NOW - 10),
        "exactly": Activity(NOW - TIMEOUT),
        "old": Activity(NOW - TIMEOUT - 1),
        "ancient": Activity(0.0),
    }

    assert culled(kernels, cull_busy=False, cull_connected=False) == ["old", "ancient"]


def test_busy_kernels_are_culled_only_with_cull_busy() -> None:
    kernels = {
        "busy": Activity(0.0, execution_state="busy"),
        "idle": Activity(0.0, execution_state="idle"),
        "starting": Activity(0.0, execution_state="starting"),
    }

    assert culled(kernels, cull_busy=False, cull_connected=False) == ["idle", "starting"]
    assert culled(kernels, cull_busy=True, cull_connected=False) == ["busy", "idle", "starting"]


def test_connected_kernels_are_culled_only_with_cull_connected() -> None:
    kernels = {"connected": Activity(0.0, clients=2), "alone": Activity(0.0, clients=0)}

    assert culled(kernels, cull_busy=False, cull_connected=False) == ["alone"]
    assert culled(kernels, cull_busy=False, cull_connected=True) == ["connected", "alone"]


def test_both_flags_together_cull_every_kernel_past_the_timeout() -> None:
    kernels = {
        "busy_connected": Activity(0.0, execution_state="busy", clients=1),
        "busy_connected_recent": Activity(NOW, execution_state="busy", clients=1),
    }

    assert culled(kernels, cull_busy=False, cull_connected=False) == []
    assert culled(kernels, cull_busy=True, cull_connected=False) == []
    assert culled(kernels, cull_busy=False, cull_connected=True) == []
    assert culled(kernels, cull_busy=True, cull_connected=True) == ["busy_connected"]


def test_no_kernels_means_nothing_to_cull() -> None:
    assert culled({}, cull_busy=True, cull_connected=True) == []
