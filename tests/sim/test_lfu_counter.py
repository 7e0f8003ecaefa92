"""Redis's LFU counter distribution, exact against the published table."""

from __future__ import annotations

import random

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.sim.eviction_engine import (
    LFU_INIT_VAL,
)
from helpers.sim.lfu_counter import lfu_counter_distributions, lfu_counter_range


def test_lfu_counter_distribution_is_exact():
    """The Markov-chain distribution agrees with simulating Redis's increment rule many times."""
    (distribution,) = lfu_counter_distributions([1000], 10)
    assert distribution.sum() == pytest.approx(1.0) and distribution.shape == (256,)
    rng = random.Random(3)
    samples = []
    for _ in range(3000):
        counter = LFU_INIT_VAL
        for _ in range(1000):
            if rng.random() < 1.0 / (max(counter - LFU_INIT_VAL, 0) * 10 + 1):
                counter += 1
        samples.append(counter)
    mean = float(np.arange(256) @ distribution)
    assert np.mean(samples) == pytest.approx(mean, abs=0.25)
    assert np.percentile(samples, 10) == pytest.approx(np.searchsorted(np.cumsum(distribution), 0.10), abs=1)


def test_lfu_counter_range_holds_the_published_table():
    published = {1: [18, 49, 255], 10: [10, 18, 142], 100: [8, 11, 49]}  # redis.conf
    for factor, values in published.items():
        for (low, high), value in zip(lfu_counter_range([100, 1000, 100_000], factor), values, strict=True):
            assert low <= value <= high
    assert lfu_counter_range([0], 10) == [(LFU_INIT_VAL, LFU_INIT_VAL)]
    assert lfu_counter_range([10**7], 1) == [(255, 255)]  # saturates


def test_lfu_counter_range_rejects_bad_hits():
    with pytest.raises(InvalidArgument, match="hits must be a whole number >= 0"):
        lfu_counter_range([-1], 10)
