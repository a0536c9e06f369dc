"""Values passed between the layers: a measured Metric, the Budget bounding loops, Context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Metric:
    """One measured number; better says which direction is good ("lower" or "higher")."""

    scenario: str
    name: str
    unit: str
    better: str
    value: float


@dataclass(frozen=True)
class Budget:
    """Counts and times that bound every loop of a run."""

    latency_requests: int
    load_seconds: float
    load_clients: int
    kernel_starts: int
    start_gap: float
    executes: int
    burst: int
    warmup: int


FULL = Budget(
    latency_requests=500,
    load_seconds=5.0,
    load_clients=8,
    kernel_starts=5,
    start_gap=1.5,
    executes=200,
    burst=100,
    warmup=20,
)
QUICK = Budget(
    latency_requests=30,
    load_seconds=1.0,
    load_clients=8,
    kernel_starts=1,
    start_gap=0.5,
    executes=20,
    burst=10,
    warmup=3,
)


@dataclass(frozen=True)
class Context:
    """What a scenario needs besides the gateway: its budget and where logs go."""

    budget: Budget
    log_dir: Path
