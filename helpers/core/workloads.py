"""Seeded request streams: which keys are asked for, and when. Same seed, same stream."""

from __future__ import annotations

import numpy as np

from helpers.core.errors import InvalidArgument, require_non_negative, require_positive


def zipf_popularity(n_keys: int, skew: float) -> np.ndarray:
    """Request probabilities of keys ranked 1..n under Zipf(skew): p_i proportional to i**-skew."""
    if isinstance(n_keys, bool) or not isinstance(n_keys, (int, np.integer)) or n_keys < 1:
        raise InvalidArgument(f"n_keys must be a whole number >= 1, got {n_keys!r}.")
    require_non_negative("skew", skew)
    weights = np.arange(1, n_keys + 1, dtype=float) ** -float(skew)
    return weights / weights.sum()


def zipf_requests(n_keys: int, skew: float, n_requests: int, seed: int) -> np.ndarray:
    """``n_requests`` key ranks (0-based; 0 is the most popular) drawn from Zipf(skew) over ``n_keys``."""
    if isinstance(n_requests, bool) or not isinstance(n_requests, (int, np.integer)) or n_requests < 0:
        raise InvalidArgument(f"n_requests must be a whole number >= 0, got {n_requests!r}.")
    rng = np.random.default_rng(seed)
    return rng.choice(n_keys, size=n_requests, p=zipf_popularity(n_keys, skew))


def poisson_arrivals(rate_per_s: float, duration_s: float, seed: int) -> np.ndarray:
    """Arrival times (seconds, sorted) of a Poisson stream at ``rate_per_s`` over ``duration_s``."""
    require_positive("rate_per_s", rate_per_s)
    require_non_negative("duration_s", duration_s)
    rng = np.random.default_rng(seed)
    expected = rate_per_s * duration_s
    gaps = rng.exponential(1.0 / rate_per_s, size=int(expected + 10 * np.sqrt(expected) + 20))
    times = np.cumsum(gaps)
    while times[-1] < duration_s:  # very unlikely: draw more
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1.0 / rate_per_s, size=len(gaps)))])
    return times[times < duration_s]
