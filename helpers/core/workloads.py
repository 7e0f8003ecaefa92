"""Seeded request streams: which keys are asked for, and when. Same seed, same stream."""

from __future__ import annotations

import numpy as np

from helpers.core.errors import require_non_negative, require_whole


def zipf_popularity(n_keys: int, skew: float) -> np.ndarray:
    """Request probabilities of keys ranked 1..n under Zipf(skew): p_i proportional to i**-skew."""
    n_keys = require_whole("n_keys", n_keys, minimum=1)
    require_non_negative("skew", skew)
    weights = np.arange(1, n_keys + 1, dtype=float) ** -float(skew)
    return weights / weights.sum()


def zipf_requests(n_keys: int, skew: float, n_requests: int, seed: int) -> np.ndarray:
    """``n_requests`` key ranks (0-based; 0 is the most popular) drawn from Zipf(skew) over ``n_keys``."""
    n_requests = require_whole("n_requests", n_requests)
    rng = np.random.default_rng(seed)
    return rng.choice(n_keys, size=n_requests, p=zipf_popularity(n_keys, skew))


def poisson_arrivals(rate_per_s: float, duration_s: float, seed: int | np.random.Generator) -> np.ndarray:
    """Arrival times (seconds, sorted) of a Poisson stream at ``rate_per_s`` over ``[0, duration_s)``.

    The stream is drawn as a Poisson number of arrivals (mean ``rate_per_s * duration_s``), each uniform
    over the interval: the same law as exponential gaps, in two numpy calls. ``seed`` is a number, or a
    ``numpy.random.Generator`` that several streams draw from in turn (one seed for a whole schedule).
    """
    require_non_negative("rate_per_s", rate_per_s)
    require_non_negative("duration_s", duration_s)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return np.sort(rng.uniform(0.0, duration_s, rng.poisson(rate_per_s * duration_s)))
