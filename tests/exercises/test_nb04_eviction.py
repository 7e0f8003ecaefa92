"""Notebook 04's checker explains each wrong choice."""

from __future__ import annotations

from helpers.core.keys import KeySpace
from helpers.exercises.nb04_eviction import (
    CATALOGUE,
    CATALOGUE_MAX_ITEMS,
    CATALOGUE_TARGET,
    catalogue_requests,
    check_eviction_choice,
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
