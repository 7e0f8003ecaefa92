"""Notebook 04's checker explains each wrong choice."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.keys import KeySpace
from helpers.exercises.nb04_eviction import (
    CATALOGUE,
    CATALOGUE_MAX_ITEMS,
    CATALOGUE_TARGET,
    SHIFT,
    SHIFT_MAX_ITEMS,
    SHIFT_TARGET,
    catalogue_requests,
    check_choice_after_shift,
    check_eviction_choice,
    hit_ratio_after_shift,
    shifted_catalogue,
)
from helpers.labs.eviction_lab import EvictionLab
from helpers.sim.cache_models import exact_lru_hits, hit_ratio

KEYS = KeySpace("04")


def test_checker_explains_wrong_choices(monkeypatch):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    lab = EvictionLab(KEYS)
    too_big = check_eviction_choice(lambda: ("allkeys-lfu", 5000), lab)
    assert not too_big and "over the memory budget" in too_big.message and "budget is fixed" in too_big.hint
    refusing = check_eviction_choice(lambda: ("noeviction", 1500), lab)
    assert not refusing and "OOM" in refusing.message and "evicts" in refusing.hint
    lru = check_eviction_choice(lambda: ("allkeys-lru", 1500), lab)
    assert not lru and "even exact LRU falls short" in lru.hint
    assert check_eviction_choice(lambda: ("volatile-lfu", 1500), lab)  # every item has a TTL
    assert lab.client is None  # the checker stopped what it started


def test_the_lru_hint_is_true_exact_lru_misses_the_target_too():
    exact = hit_ratio(exact_lru_hits(catalogue_requests(), CATALOGUE_MAX_ITEMS), CATALOGUE["warmup"])
    assert exact < CATALOGUE_TARGET - 0.01


# -- 04.2 ---------------------------------------------------------------------------------------------
def test_the_season_change_passes_recency_with_the_whole_budget():
    assert check_choice_after_shift(lambda: ("allkeys-lru", SHIFT_MAX_ITEMS)).passed


@pytest.mark.parametrize(
    ("choice", "hint"),
    [
        (("allkeys-lfu", SHIFT_MAX_ITEMS), "last season's best-sellers"),
        (("allkeys-random", SHIFT_MAX_ITEMS), "ignores what is asked for"),
        (("volatile-ttl", SHIFT_MAX_ITEMS), "FIFO"),
        (("allkeys-lru", 1_200), "whole budget"),
        (("allkeys-lru", 5_000), "budget is fixed"),
        (("noeviction", 1_000), "evicts"),
        ("allkeys-lru", "Return a tuple"),
    ],
)
def test_the_season_change_explains_wrong_choices(choice, hint):
    result = check_choice_after_shift(lambda: choice)
    assert not result.passed and hint in result.hint


def test_the_season_change_shifts_popularity_and_the_held_out_sequence_differs():
    practice, held_out = shifted_catalogue(SHIFT["practice_seed"]), shifted_catalogue(SHIFT["held_out_seed"])
    assert len(practice) == SHIFT["requests"] and not np.array_equal(practice, held_out)
    half = SHIFT["requests"] // 2
    top_before = np.bincount(practice[:half], minlength=SHIFT["items"]).argmax()
    assert np.count_nonzero(practice[half:] == top_before) < np.count_nonzero(practice[:half] == top_before) / 5
    assert hit_ratio_after_shift(np.array([False, False, True, True])) == 1.0
    assert 0 < SHIFT_TARGET < 1


def test_a_wrong_policy_for_the_catalogue_fails_with_a_hint(monkeypatch):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    result = check_eviction_choice(lambda: ("allkeys-random", CATALOGUE_MAX_ITEMS), EvictionLab(KEYS))
    assert not result.passed and "popularity" in result.hint
