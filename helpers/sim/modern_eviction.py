"""The eviction research of the last decade, on the same request sequences as Redis's simulator.

``libcachesim_hits`` runs one of libCacheSim's policies (the C simulator eviction papers use, through its
Python bindings, the ``libcachesim`` package) and returns per-request hits, like ``cache_models``' exact
LRU and Belady. Its wheels exist for Linux x86-64 (glibc 2.34 or newer) and macOS 15+ on arm64, Python
3.10 to 3.13; elsewhere ``libcachesim_available()`` is False and ``LIBCACHESIM_MISSING`` says so in one line.

``sieve_hits`` is SIEVE (Zhang et al., NSDI 2024) in plain Python with the eviction step left to the
caller: notebook 09's learners write that step (the hand) themselves.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from helpers.core.errors import FriendlyError, InvalidArgument, require_whole
from helpers.sim.cache_models import next_use

# The table's names, and libcachesim's class for each.
LIBCACHESIM_POLICIES = {
    "LRU": "LRU",
    "LFU": "LFU",
    "FIFO": "FIFO",
    "CLOCK": "Clock",
    "ARC": "ARC",
    "W-TinyLFU": "WTinyLFU",
    "S3-FIFO": "S3FIFO",
    "SIEVE": "Sieve",
    "Belady": "Belady",
}
LIBCACHESIM_MISSING = (
    "libcachesim is not installed here (its wheels: Linux x86-64 with glibc 2.34+, macOS 15+ on arm64; "
    "`pip install libcachesim`), so the state-of-the-art rows are left out."
)
NEVER_AGAIN = (1 << 63) - 1  # libCacheSim's Belady wants INT64_MAX for "no next request"
HASHPOWER = 16  # 65,536 hash buckets: plenty for the notebook's catalogues, and quick to allocate


class LibCacheSimMissing(FriendlyError):
    """libcachesim is not installed (or has no wheel for this platform)."""


def libcachesim_available() -> bool:
    """True if the ``libcachesim`` package can be imported here."""
    return importlib.util.find_spec("libcachesim") is not None


def libcachesim_hits(requests: ArrayLike, capacity: int, policy: str) -> np.ndarray:
    """Per-request hits of libCacheSim's ``policy`` (a key of LIBCACHESIM_POLICIES) holding ``capacity`` objects."""
    if policy not in LIBCACHESIM_POLICIES:
        raise InvalidArgument(f"unknown policy {policy!r}; use one of: {', '.join(LIBCACHESIM_POLICIES)}.")
    capacity = require_whole("capacity", capacity, minimum=1, unit="of objects")
    if not libcachesim_available():
        raise LibCacheSimMissing(LIBCACHESIM_MISSING)
    import libcachesim

    ids = np.asarray(requests)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise InvalidArgument("requests must be a 1-D sequence of integer object ids.")
    following = next_use(ids)
    following[following == len(ids)] = NEVER_AGAIN
    cache = getattr(libcachesim, LIBCACHESIM_POLICIES[policy])(capacity, hashpower=HASHPOWER)
    request = libcachesim.Request()
    request.obj_size = 1  # every object costs one slot, so capacity counts objects
    hits = np.zeros(len(ids), dtype=bool)
    for i, (key, upcoming) in enumerate(zip(ids.tolist(), following.tolist(), strict=True)):
        request.obj_id = key + 1  # libCacheSim reserves id 0
        request.clock_time = i
        request.next_access_vtime = upcoming
        hits[i] = cache.get(request)
    return hits


class SieveLoop(Exception):
    """The eviction step read more visited bits than a full turn of the hand needs: it never stops."""


class _CountedVisited(dict):
    """The visited bits, counting reads: a hand that never clears a bit would loop for ever."""

    limit = 0
    reads = 0

    def __getitem__(self, key: int) -> bool:
        self.reads += 1
        if self.reads > self.limit:
            raise SieveLoop(f"the hand read {self.reads} visited bits to find one victim among {len(self)} keys")
        return super().__getitem__(key)


def sieve_hits(
    requests: ArrayLike, capacity: int, pick_victim: Callable[[list[int], dict[int, bool], int], int]
) -> np.ndarray:
    """Per-request hits of SIEVE holding ``capacity`` objects, ``pick_victim(order, visited, hand)`` evicting.

    ``order`` lists the cached keys oldest first (a hit never moves a key); ``visited[key]`` is set on each hit;
    ``hand`` is the index where the previous search stopped (0 at first). ``pick_victim`` returns the index of
    the key to evict; the hand then stays at that index, which now holds the next newer key (0 past the end).
    """
    capacity = require_whole("capacity", capacity, minimum=1, unit="of objects")
    ids = np.asarray(requests).tolist()
    order: list[int] = []
    visited = _CountedVisited()
    hand = 0
    hits = np.zeros(len(ids), dtype=bool)
    for i, key in enumerate(ids):
        if key in visited:
            visited[key] = True
            hits[i] = True
            continue
        if len(order) >= capacity:
            visited.reads, visited.limit = 0, 2 * len(order) + 2
            victim = pick_victim(order, visited, hand)
            if not isinstance(victim, int | np.integer) or not 0 <= victim < len(order):
                raise InvalidArgument(f"pick_victim returned {victim!r}, not an index of order (0..{len(order) - 1}).")
            del visited[order[victim]]
            del order[victim]
            hand = victim if victim < len(order) else 0
        order.append(key)
        visited[key] = False
    return hits
