"""Closed-form models of one cached key under a Poisson read stream, and a seeded simulation of its life.

One key is read at ``read_rate`` reads per second (a Poisson stream). On a miss the application reads
the database and stores the value with a TTL of ``ttl_s`` seconds (cache-aside). Then, with
``x = read_rate * ttl_s`` (the reads expected during one TTL):

- **fixed TTL** (the expiry is set by the fill only): hit ratio ``x / (1 + x)``;
- **sliding TTL** (every hit pushes the expiry ``ttl_s`` ahead): hit ratio ``1 - exp(-x)``;
- with database updates at ``update_rate`` per second and no invalidation, the share of all reads that
  return stale data (fixed TTL) is ``h * [1 - (1 - exp(-y)) / y]`` with ``h`` the fixed-TTL hit ratio and
  ``y = update_rate * ttl_s``: a hit ``a`` seconds after the fill is stale when an update came in between,
  with probability ``1 - exp(-update_rate * a)``, and the age of a hit is uniform over the TTL.

The functions take numbers or numpy arrays (for plotting a whole curve at once). Bad input raises
``InvalidArgument``. ``simulate_key_life`` applies the same rules to one seeded read stream, so that
a picture of a key's life can be drawn without waiting for real time to pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from helpers.core.errors import InvalidArgument, require_non_negative, require_positive
from helpers.core.workloads import poisson_arrivals
from helpers.sim.solve import bisect_increasing

_SERIES_BELOW = 1e-4  # under this, 1 - (1 - exp(-y)) / y is computed from its series (no cancellation)


def _non_negative(name: str, value: float | np.ndarray) -> np.ndarray:
    """``value`` as a float array, or InvalidArgument if any element is negative, NaN, infinite or not a number."""
    problem = f"{name} must be a finite number >= 0 (or an array of them), got {value!r}."
    if isinstance(value, (bool, str, bytes)):
        raise InvalidArgument(problem)
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidArgument(problem) from None
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InvalidArgument(problem)
    return array


def _result(array: np.ndarray) -> float | np.ndarray:
    """A plain float for scalar input, the array otherwise."""
    return float(array) if array.ndim == 0 else array


def fixed_ttl_hit_ratio(read_rate: float | np.ndarray, ttl_s: float | np.ndarray) -> float | np.ndarray:
    """Hit ratio of a fixed TTL (set on the fill only): λT / (1 + λT)."""
    x = _non_negative("read_rate", read_rate) * _non_negative("ttl_s", ttl_s)
    return _result(x / (1.0 + x))


def sliding_ttl_hit_ratio(read_rate: float | np.ndarray, ttl_s: float | np.ndarray) -> float | np.ndarray:
    """Hit ratio of a sliding TTL (every hit renews it): 1 - exp(-λT)."""
    x = _non_negative("read_rate", read_rate) * _non_negative("ttl_s", ttl_s)
    return _result(-np.expm1(-x))


def _stale_given_hit(y: np.ndarray) -> np.ndarray:
    """1 - (1 - exp(-y)) / y: the chance that a hit (uniform age over the TTL) missed an update; 0 at y = 0."""
    small = y < _SERIES_BELOW
    safe = np.where(small, 1.0, y)
    exact = 1.0 + np.expm1(-safe) / safe
    series = y / 2.0 - y**2 / 6.0 + y**3 / 24.0
    return np.where(small, series, exact)


def stale_read_share(
    read_rate: float | np.ndarray, update_rate: float | np.ndarray, ttl_s: float | np.ndarray
) -> float | np.ndarray:
    """Share of all reads that return stale data with a fixed TTL and no invalidation: h·[1 - (1 - exp(-μT))/(μT)]."""
    rate = _non_negative("read_rate", read_rate)
    updates = _non_negative("update_rate", update_rate)
    ttl = _non_negative("ttl_s", ttl_s)
    hit = (rate * ttl) / (1.0 + rate * ttl)
    return _result(hit * _stale_given_hit(updates * ttl))


def longest_ttl_for_stale_budget(read_rate: float, update_rate: float, max_stale_share: float) -> float:
    """The longest TTL (seconds) whose stale-read share stays within ``max_stale_share`` (math.inf if no updates)."""
    require_positive("read_rate", read_rate)
    require_non_negative("update_rate", update_rate)
    require_non_negative("max_stale_share", max_stale_share)
    if not 0 < max_stale_share < 1:
        raise InvalidArgument(
            f"max_stale_share is a share of reads, between 0 and 1 (e.g. 0.01 for 1 %), got {max_stale_share!r}."
        )
    if update_rate == 0:
        return math.inf  # the data never changes, so no read is ever stale

    def stale(ttl: float) -> float:
        return float(stale_read_share(read_rate, update_rate, ttl))

    # The stale share grows with the TTL from 0 towards 1: the longest TTL within budget is the bracket's low end.
    longest, _ = bisect_increasing(stale, max_stale_share, high=1.0 / (read_rate + update_rate))
    return longest


@dataclass(frozen=True)
class KeyLife:
    """One key's simulated life: when it was read, which reads hit, and when it was in the cache."""

    read_rate: float
    ttl_s: float
    duration_s: float
    sliding: bool
    read_times: np.ndarray  # seconds, sorted
    hits: np.ndarray  # one bool per read
    alive: tuple[tuple[float, float], ...]  # (start, end) of each stay in the cache, clipped to the duration

    @property
    def hit_ratio(self) -> float:
        """Share of the reads that were hits (0 when there were no reads)."""
        return float(self.hits.mean()) if self.hits.size else 0.0

    @property
    def misses(self) -> int:
        """Reads that went to the database (one per stay in the cache)."""
        return int(self.hits.size - self.hits.sum())


def simulate_key_life(
    read_rate: float, ttl_s: float, duration_s: float, seed: int, *, sliding: bool = False
) -> KeyLife:
    """Apply the cache-aside TTL rules to one seeded Poisson read stream (no Redis: a model, for pictures)."""
    require_positive("ttl_s", ttl_s)
    require_positive("duration_s", duration_s)
    times = poisson_arrivals(read_rate, duration_s, seed)
    hits = np.zeros(times.size, dtype=bool)
    stays: list[list[float]] = []
    expires_at = -math.inf
    for index, now in enumerate(times):
        if now < expires_at:  # a hit: the key is still there (Redis expires it only when now > expiry)
            hits[index] = True
            if sliding:
                expires_at = now + ttl_s
                stays[-1][1] = expires_at
        else:  # a miss: read the database and fill the cache
            expires_at = now + ttl_s
            stays.append([now, expires_at])
    alive = tuple((start, min(end, duration_s)) for start, end in stays)
    return KeyLife(float(read_rate), float(ttl_s), float(duration_s), sliding, times, hits, alive)
