"""Measure latency: time calls, summarise them as percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from helpers.core.errors import InvalidArgument


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of a set of latencies, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    def __str__(self) -> str:
        return (
            f"{self.count} calls: median {self.p50_ms:.3f} ms, p99 {self.p99_ms:.3f} ms, "
            f"mean {self.mean_ms:.3f} ms, max {self.max_ms:.3f} ms"
        )


def time_calls(fn: Callable, args: Iterable) -> list[float]:
    """Call ``fn(arg)`` for each arg and return each call's latency in milliseconds."""
    latencies = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        latencies.append((time.perf_counter() - start) * 1000.0)
    return latencies


def summarize(latencies_ms: Iterable[float]) -> LatencySummary:
    """Median, p99, mean and max of latencies given in milliseconds."""
    values = np.asarray(list(latencies_ms), dtype=float)
    if values.size == 0:
        raise InvalidArgument("summarize() needs at least one latency.")
    return LatencySummary(
        count=int(values.size),
        p50_ms=float(np.percentile(values, 50)),
        p99_ms=float(np.percentile(values, 99)),
        mean_ms=float(values.mean()),
        max_ms=float(values.max()),
    )
