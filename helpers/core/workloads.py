"""Seeded request streams: which keys are asked for, and when. Same seed, same stream.

And streams that change (notebook 09): a popularity shift, a one-off scan, new keys that return.
"""

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


# -- workloads that change: notebook 09 -------------------------------------------------------------
def shift_popularity(requests: np.ndarray, at: int, offset: int, n_keys: int) -> np.ndarray:
    """A popularity shift: from request ``at`` on, rank r names key (r + offset) mod ``n_keys`` instead of r.

    Before the shift the hot keys are 0, 1, 2 ...; after it they are ``offset``, ``offset + 1`` ...: yesterday's
    hot keys turn cold at once and keys nobody asked for become the new favourites.
    """
    ranks = np.asarray(requests)
    at = require_whole("at", at, maximum=len(ranks))
    n_keys = require_whole("n_keys", n_keys, minimum=1)
    shifted = ranks.copy()
    shifted[at:] = (ranks[at:] + require_whole("offset", offset)) % n_keys
    return shifted


def interleave_scan(
    requests: np.ndarray, start: int, stop: int, *, per_request: int, first_key: int
) -> tuple[np.ndarray, np.ndarray]:
    """A one-off scan: before each request in ``[start, stop)``, ``per_request`` keys never asked for before.

    The scan's keys are ``first_key``, ``first_key + 1`` ... (each requested once, as a batch job reading every
    row would). Returns the new sequence and a mask that is True for the scan's requests.
    """
    ranks = np.asarray(requests)
    stop = require_whole("stop", stop, maximum=len(ranks))
    start = require_whole("start", start, maximum=stop)
    positions = np.repeat(np.arange(start, stop), require_whole("per_request", per_request, minimum=1))
    scan_keys = require_whole("first_key", first_key) + np.arange(len(positions))
    sequence = np.insert(ranks, positions, scan_keys)
    return sequence, sequence >= first_key


def add_newcomers(
    requests: np.ndarray, *, every: int, gaps: tuple[int, ...], first_key: int
) -> tuple[np.ndarray, np.ndarray]:
    """New keys that prove themselves: every ``every`` requests a new key appears, then returns after each gap.

    Newcomer j (key ``first_key + j``) is first requested just before request ``j * every`` and again
    ``gaps[0]``, ``gaps[0] + gaps[1]`` ... requests later (counted in the original sequence). Returns the new
    sequence and a mask that is True for the newcomers' requests.
    """
    ranks = np.asarray(requests)
    every = require_whole("every", every, minimum=1)
    offsets = np.concatenate([[0], np.cumsum([require_whole("gap", gap, minimum=1) for gap in gaps])])
    starts = np.arange(0, len(ranks), every)
    positions = (starts[:, None] + offsets[None, :]).ravel()
    newcomer = np.repeat(require_whole("first_key", first_key) + np.arange(len(starts)), len(offsets))
    inside = positions < len(ranks)
    order = np.argsort(positions[inside], kind="stable")
    sequence = np.insert(ranks, positions[inside][order], newcomer[inside][order])
    return sequence, sequence >= first_key
