"""Small statistics over timing samples: percentiles, medians and per-round ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the pct-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """Return the median of the values."""
    return percentile(values, 50.0)


def round_ratios(ours: Sequence[float | None], peer: Sequence[float | None]) -> list[float]:
    """Return ours/peer for each round where both sides produced a non-zero value."""
    return [
        mine / theirs
        for mine, theirs in zip(ours, peer, strict=True)
        if mine is not None and theirs is not None and theirs != 0
    ]
