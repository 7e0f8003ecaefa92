"""Redis's LFU counter as a Markov chain: its exact distribution after n hits, and the range it stays in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.core.errors import require_whole
from helpers.sim.eviction_engine import LFU_INIT_VAL


def lfu_counter_distributions(hits: Sequence[int], lfu_log_factor: int) -> list[np.ndarray]:
    """Exact probabilities of each LFU counter value (0..255) after each number of ``hits`` on a new key.

    The counter is a Markov chain (a hit moves it up one with probability 1 / ((c - 5) * factor + 1)),
    so its distribution after n hits is a row of the n-th power of the transition matrix: powers of two
    by repeated squaring, shared by every n asked for.
    """
    hits = [require_whole("hits", n) for n in hits]
    factor = require_whole("lfu-log-factor", lfu_log_factor)
    counters = np.arange(256)
    step_up = 1.0 / (np.maximum(counters - LFU_INIT_VAL, 0) * factor + 1)
    step_up[255] = 0.0  # the counter saturates
    power = np.diag(1.0 - step_up) + np.diag(step_up[:-1], k=1)  # row: from, column: to
    start = np.zeros(256)
    start[LFU_INIT_VAL] = 1.0
    results = [start.copy() for _ in hits]
    remaining = [int(n) for n in hits]
    while any(remaining):
        for index, n in enumerate(remaining):
            if n & 1:
                results[index] = results[index] @ power
            remaining[index] = n >> 1
        if any(remaining):
            power = power @ power
    return results


def lfu_counter_range(hits: Sequence[int], lfu_log_factor: int, tail: float = 1e-6) -> list[tuple[int, int]]:
    """For each number of hits, the counter values reached except with probability ``tail`` on each side."""
    ranges = []
    for distribution in lfu_counter_distributions(hits, lfu_log_factor):
        cumulative = np.cumsum(distribution)
        low, high = int(np.searchsorted(cumulative, tail)), int(np.searchsorted(cumulative, 1.0 - tail))
        ranges.append((low, min(high, 255)))
    return ranges
