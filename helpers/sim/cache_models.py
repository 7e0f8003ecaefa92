"""Hit-ratio baselines for a cache of C equal objects: analytic models and exact offline simulations.

Analytic, for independent requests where object i is asked for with probability ``p[i]`` (the
independent reference model):

- ``che_lru_hit_ratio``: exact LRU by the Che approximation (characteristic time T).
- ``random_hit_ratio``: random replacement, which is also FIFO's hit ratio under this model.
- ``top_c_hit_ratio``: perfect LFU, the C most popular objects always cached (the best online policy).

Simulated exactly on a concrete request sequence (per-request hits, so a warm-up can be left out):

- ``exact_lru_hits``: true LRU (an ordered dict), the policy Redis approximates.
- ``belady_hits``: Belady's MIN, evicting the object whose next request is furthest away: the
  offline optimum no real cache can beat.

``hit_ratio`` and ``hit_ratio_over_time`` summarise per-request hits (after a warm-up; per window).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from helpers.core.errors import InvalidArgument, require_positive, require_whole
from helpers.sim.solve import bisect_increasing


def _probabilities(popularity: np.ndarray) -> np.ndarray:
    p = np.asarray(popularity, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise InvalidArgument("popularity must be a 1-D array of probabilities that sum to 1 (zipf_popularity(...)).")
    return p


def _capacity(capacity: float) -> float:
    """A cache size in objects: any number > 0 (the analytic models accept fractions)."""
    try:
        return float(require_positive("capacity", capacity))
    except InvalidArgument:
        raise InvalidArgument(f"capacity must be a number of objects > 0, got {capacity!r}.") from None


def _solve(occupancy: Callable[[float], float], capacity: float) -> float:
    """The T >= 0 at which the increasing function ``occupancy(T)`` equals ``capacity``."""
    below, above = bisect_increasing(occupancy, capacity)
    return (below + above) / 2.0


def che_characteristic_time(popularity: np.ndarray, capacity: float) -> float:
    """Che's T (in requests): the T with sum_i (1 - exp(-p_i T)) = C."""
    p = _probabilities(popularity)
    capacity = _capacity(capacity)
    if capacity >= p.size:
        return float("inf")
    return _solve(lambda t: float(np.sum(-np.expm1(-p * t))), capacity)


def che_lru_hit_ratio(popularity: np.ndarray, capacity: float) -> float:
    """Exact LRU's hit ratio by the Che approximation: sum_i p_i (1 - exp(-p_i T))."""
    p = _probabilities(popularity)
    t = che_characteristic_time(p, capacity)
    return 1.0 if t == float("inf") else float(np.sum(p * -np.expm1(-p * t)))


def random_hit_ratio(popularity: np.ndarray, capacity: float) -> float:
    """Random replacement (and FIFO): h_i = p_i T / (1 + p_i T) with sum_i h_i = C; returns sum_i p_i h_i."""
    p = _probabilities(popularity)
    capacity = _capacity(capacity)
    if capacity >= p.size:
        return 1.0
    t = _solve(lambda t: float(np.sum(p * t / (1.0 + p * t))), capacity)
    return float(np.sum(p * (p * t / (1.0 + p * t))))


def top_c_hit_ratio(popularity: np.ndarray, capacity: int) -> float:
    """Perfect LFU: the sum of the C largest probabilities."""
    p = _probabilities(popularity)
    capacity = _capacity(capacity)
    return float(np.sort(p)[::-1][: int(capacity)].sum())


def _requests(requests) -> list[int]:
    array = np.asarray(requests)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InvalidArgument("requests must be a 1-D sequence of integer object ids (zipf_requests(...)).")
    return array.tolist()


def exact_lru_hits(requests: ArrayLike, capacity: int) -> np.ndarray:
    """Per-request hits of a true LRU cache of ``capacity`` objects, filled on every miss."""
    capacity = require_whole("capacity", capacity, minimum=1, unit="of objects")
    cache: OrderedDict[int, None] = OrderedDict()
    ids = _requests(requests)
    hits = np.zeros(len(ids), dtype=bool)
    for i, key in enumerate(ids):
        if key in cache:
            cache.move_to_end(key)
            hits[i] = True
        else:
            cache[key] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits


def next_use(requests: ArrayLike) -> np.ndarray:
    """For each request, the index of the next request for the same object (len(requests) if none)."""
    ids = _requests(requests)
    following = np.empty(len(ids), dtype=np.int64)
    seen: dict[int, int] = {}
    for i in range(len(ids) - 1, -1, -1):
        following[i] = seen.get(ids[i], len(ids))
        seen[ids[i]] = i
    return following


def belady_hits(requests: ArrayLike, capacity: int) -> np.ndarray:
    """Per-request hits of Belady's MIN: on a miss, drop the cached object (or the newcomer) needed furthest ahead."""
    capacity = require_whole("capacity", capacity, minimum=1, unit="of objects")
    ids = _requests(requests)
    following = next_use(ids).tolist()
    hits = np.zeros(len(ids), dtype=bool)
    due: dict[int, int] = {}  # object -> index of its next request, for the objects in the cache
    heap: list[tuple[int, int]] = []  # (-next request, object), with stale entries skipped lazily
    for i, key in enumerate(ids):
        if key in due:
            hits[i] = True
        elif len(due) >= capacity:
            while due.get(heap[0][1]) != -heap[0][0]:  # drop stale entries from the top
                heapq.heappop(heap)
            if following[i] >= -heap[0][0]:  # the newcomer is needed last of all: do not keep it
                continue
            del due[heapq.heappop(heap)[1]]
        due[key] = following[i]
        heapq.heappush(heap, (-following[i], key))
    return hits


def hit_ratio(hits: np.ndarray, warmup: int = 0) -> float:
    """The share of hits among the requests after the first ``warmup`` ones."""
    hits = np.asarray(hits, dtype=bool)
    warmup = require_whole("warmup", warmup, maximum=len(hits) - 1)
    return float(hits[warmup:].mean())


def hit_ratio_over_time(hits: np.ndarray, window: int) -> np.ndarray:
    """The hit ratio of each consecutive ``window`` requests (a last, shorter window is left out)."""
    hits = np.asarray(hits, dtype=bool)
    window = require_whole("window", window, minimum=1, maximum=len(hits))
    whole = len(hits) // window * window
    return hits[:whole].reshape(-1, window).mean(axis=1)
