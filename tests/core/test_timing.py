"""Latency measurement and percentiles."""

from __future__ import annotations

import time

import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.timing import summarize, time_calls


def test_time_calls_measures_each_call_in_ms():
    latencies = time_calls(lambda seconds: time.sleep(seconds), [0.0, 0.02])
    assert len(latencies) == 2
    assert latencies[0] < latencies[1] and latencies[1] >= 19.5


def test_summarize_percentiles():
    summary = summarize([1.0] * 99 + [100.0])
    assert summary.count == 100 and summary.p50_ms == 1.0 and summary.max_ms == 100.0
    assert 1.0 < summary.p99_ms <= 100.0 and summary.mean_ms == pytest.approx(1.99)
    assert str(summary).startswith("100 calls: median 1.000 ms")


def test_summarize_needs_data():
    with pytest.raises(InvalidArgument, match="at least one latency"):
        summarize([])
