"""libCacheSim's policies on the project's sequences: its LRU and Belady agree with ours, SIEVE's hand with its."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.workloads import add_newcomers, interleave_scan, shift_popularity, zipf_requests
from helpers.sim import modern_eviction
from helpers.sim.cache_models import belady_hits, exact_lru_hits
from helpers.sim.modern_eviction import (
    LIBCACHESIM_POLICIES,
    LibCacheSimMissing,
    SieveLoop,
    libcachesim_available,
    libcachesim_hits,
    sieve_hits,
)

needs_libcachesim = pytest.mark.skipif(not libcachesim_available(), reason=modern_eviction.LIBCACHESIM_MISSING)


def shared_sequences() -> dict[str, np.ndarray]:
    """A static, a shifted, a scanned and a newcomer sequence, small enough to run every policy quickly."""
    static = zipf_requests(2_000, 0.9, 12_000, seed=21)
    return {
        "static": static,
        "shift": shift_popularity(static, at=6_000, offset=1_000, n_keys=2_000),
        "scan": interleave_scan(static, 4_000, 6_000, per_request=2, first_key=2_000)[0],
        "newcomers": add_newcomers(static, every=40, gaps=(150, 300), first_key=2_000)[0],
    }


def reference_pick(order: list[int], visited: dict[int, bool], hand: int) -> int:
    """SIEVE's hand: skip (and clear) visited keys, oldest to newest, wrapping around."""
    while visited[order[hand]]:
        visited[order[hand]] = False
        hand = (hand + 1) % len(order)
    return hand


@needs_libcachesim
@pytest.mark.parametrize("name", ["static", "shift", "scan", "newcomers"])
def test_exact_lru_is_libcachesims_lru_request_for_request(name):
    requests = shared_sequences()[name]
    for capacity in (50, 200):
        assert np.array_equal(exact_lru_hits(requests, capacity), libcachesim_hits(requests, capacity, "LRU"))


@needs_libcachesim
@pytest.mark.parametrize("name", ["static", "shift", "scan", "newcomers"])
def test_belady_matches_libcachesims_and_tops_every_policy(name):
    """Ours may also decline to admit a newcomer needed last of all, so it is never below libCacheSim's."""
    requests = shared_sequences()[name]
    ours = belady_hits(requests, 200).mean()
    theirs = libcachesim_hits(requests, 200, "Belady").mean()
    assert theirs <= ours <= theirs + 0.01
    for policy in LIBCACHESIM_POLICIES:
        assert libcachesim_hits(requests, 200, policy).mean() <= ours


@needs_libcachesim
@pytest.mark.parametrize("name", ["static", "scan"])
def test_sieve_with_the_reference_hand_is_libcachesims_sieve(name):
    requests = shared_sequences()[name]
    assert np.array_equal(sieve_hits(requests, 100, reference_pick), libcachesim_hits(requests, 100, "SIEVE"))


def test_sieve_is_not_fifo_and_keeps_its_hits_per_key():
    requests = zipf_requests(500, 1.0, 5_000, seed=3)
    fifo = sieve_hits(requests, 50, lambda order, visited, hand: 0)  # always the oldest: FIFO
    sieve = sieve_hits(requests, 50, reference_pick)
    assert sieve.mean() > fifo.mean() + 0.02  # a second chance for visited keys pays on a skewed workload
    assert sieve_hits([1, 2, 1, 3, 1], 2, reference_pick).tolist() == [False, False, True, False, True]


def test_a_hand_that_never_clears_a_bit_is_stopped():
    def stuck(order, visited, hand):
        while visited[order[hand]]:
            hand = (hand + 1) % len(order)
        return hand

    with pytest.raises(SieveLoop):
        sieve_hits([1, 2, 1, 2, 3], 2, stuck)


def test_bad_victims_and_policies_are_refused(monkeypatch):
    with pytest.raises(InvalidArgument, match="not an index"):
        sieve_hits([1, 2, 3], 2, lambda order, visited, hand: len(order))
    with pytest.raises(InvalidArgument, match="unknown policy"):
        libcachesim_hits([1, 2], 1, "MRU")
    monkeypatch.setattr(modern_eviction, "libcachesim_available", lambda: False)
    with pytest.raises(LibCacheSimMissing, match="pip install libcachesim"):
        libcachesim_hits([1, 2], 1, "LRU")
