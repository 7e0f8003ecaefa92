"""Analytic hit-ratio models and exact offline simulations, checked against the reference table and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.workloads import zipf_popularity, zipf_requests
from helpers.sim.cache_models import (
    belady_hits,
    che_lru_hit_ratio,
    exact_lru_hits,
    hit_ratio,
    hit_ratio_over_time,
    next_use,
    random_hit_ratio,
    top_c_hit_ratio,
)


def test_models_match_the_reference_table():
    popularity = zipf_popularity(10_000, 0.8)
    assert che_lru_hit_ratio(popularity, 100) == pytest.approx(0.157, abs=0.002)
    assert random_hit_ratio(popularity, 100) == pytest.approx(0.134, abs=0.002)
    assert top_c_hit_ratio(popularity, 100) == pytest.approx(0.300, abs=0.002)
    popularity = zipf_popularity(10_000, 1.0)
    assert che_lru_hit_ratio(popularity, 1000) == pytest.approx(0.676, abs=0.002)
    assert random_hit_ratio(popularity, 1000) == pytest.approx(0.631, abs=0.002)
    assert top_c_hit_ratio(popularity, 1000) == pytest.approx(0.765, abs=0.002)


def test_che_predicts_simulated_exact_lru():
    requests = zipf_requests(5000, 0.9, 60_000, seed=2)
    simulated = hit_ratio(exact_lru_hits(requests, 300), 12_000)
    assert simulated == pytest.approx(che_lru_hit_ratio(zipf_popularity(5000, 0.9), 300), abs=0.01)


def test_uniform_popularity_makes_every_model_equal():
    uniform = np.full(1000, 1 / 1000)
    for model in (che_lru_hit_ratio, random_hit_ratio, top_c_hit_ratio):
        assert model(uniform, 100) == pytest.approx(0.1, abs=1e-9)
    assert che_lru_hit_ratio(uniform, 1000) == 1.0 and random_hit_ratio(uniform, 5000) == 1.0


def test_next_use():
    assert next_use([1, 2, 1, 3, 2]).tolist() == [2, 4, 5, 5, 5]


def _optimal_hits(requests, capacity):
    """Brute force: the most hits any eviction choice (keeping the newcomer or not) can get."""
    best = 0

    def search(i, cache, hits):
        nonlocal best
        if i == len(requests):
            best = max(best, hits)
            return
        key = requests[i]
        if key in cache:
            search(i + 1, cache, hits + 1)
        elif len(cache) < capacity:
            search(i + 1, cache | {key}, hits)
        else:
            search(i + 1, cache, hits)  # do not keep the newcomer
            for victim in cache:
                search(i + 1, (cache - {victim}) | {key}, hits)

    search(0, frozenset(), 0)
    return best


def test_belady_is_optimal_on_small_sequences():
    rng = np.random.default_rng(0)
    for _ in range(30):
        requests = rng.integers(0, 4, size=9)
        assert belady_hits(requests, 2).sum() == _optimal_hits(requests.tolist(), 2)


def test_belady_beats_lru_and_exact_lru_counts_hits():
    requests = zipf_requests(3000, 0.8, 20_000, seed=1)
    assert belady_hits(requests, 200).sum() > exact_lru_hits(requests, 200).sum()
    assert exact_lru_hits([1, 2, 1, 3, 1, 2], 2).tolist() == [False, False, True, False, True, False]


def test_bad_input_is_refused():
    with pytest.raises(InvalidArgument, match="sum to 1"):
        che_lru_hit_ratio(np.array([0.5, 0.2]), 1)
    with pytest.raises(InvalidArgument, match="capacity"):
        random_hit_ratio(zipf_popularity(10, 1.0), -3)
    with pytest.raises(InvalidArgument, match="capacity"):
        exact_lru_hits([1, 2], 0)
    with pytest.raises(InvalidArgument, match="integer object ids"):
        belady_hits([0.5, 1.5], 1)
    with pytest.raises(InvalidArgument, match="warmup"):
        hit_ratio(np.array([True, False]), 2)
    assert list(itertools.islice(iter(exact_lru_hits([], 1)), 1)) == []


def test_hit_ratio_over_time_averages_whole_windows():
    hits = np.array([1, 1, 0, 0, 1, 0, 1], dtype=bool)
    assert hit_ratio_over_time(hits, 2).tolist() == [1.0, 0.0, 0.5]  # the seventh request is left out
    assert hit_ratio_over_time(hits, 7).tolist() == [pytest.approx(4 / 7)]
    with pytest.raises(InvalidArgument):
        hit_ratio_over_time(hits, 8)
