"""The eviction simulator: its data structures, clocks and counters, and its policies' behaviour."""

from __future__ import annotations

import random

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.workloads import shift_popularity, zipf_popularity, zipf_requests
from helpers.sim.cache_models import exact_lru_hits, hit_ratio, random_hit_ratio
from helpers.sim.eviction_engine import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    EvictionEngine,
    OutOfMemory,
    SimDict,
    check_policy,
    check_samples,
    simulate_cache_aside,
)


def test_policy_and_samples_are_validated():
    assert check_policy("allkeys-lru") == "allkeys-lru"
    with pytest.raises(InvalidArgument, match="unknown maxmemory-policy 'allkeys-lru '"):
        check_policy("allkeys-lru ")
    assert check_samples(64) == 64
    for bad in (0, 65, 2.5, True):
        with pytest.raises(InvalidArgument, match="1 to 64"):
            check_samples(bad)
    with pytest.raises(InvalidArgument, match="maxmemory must be a whole number"):
        EvictionEngine(maxmemory=-1)


def test_simdict_grows_by_doubling_and_samples_existing_keys():
    hashes = {key: random.Random(key).getrandbits(64) for key in range(100)}
    table = SimDict(hashes)
    for key in range(100):
        table.add(key)
    assert len(table) == 100 and table.mask + 1 == 128  # doubled from 4 each time it filled up
    table.remove(7)
    rng = random.Random(1)
    for _ in range(50):
        sample = table.some_keys(5, rng)
        assert len(sample) == 5 and len(set(sample)) == 5 and 7 not in sample
        assert table.random_key(rng) in set(range(100)) - {7}
    assert sorted(table.some_keys(500, rng)) == sorted(set(range(100)) - {7})  # asks for more than exist


def test_lru_clock_has_one_second_resolution():
    engine = EvictionEngine(policy="allkeys-lru")
    engine.now_ms = 10_000
    engine.write("a", 1)
    engine.now_ms = 10_900
    engine.write("b", 1)
    engine.now_ms = 10_950
    assert engine.idle_ms("a") == engine.idle_ms("b") == 0  # same second: indistinguishable
    engine.now_ms = 12_100
    assert engine.idle_ms("a") == 2000 and engine.read("b") is not None and engine.idle_ms("b") == 0


def test_lfu_counter_starts_at_five_grows_logarithmically_and_decays_per_minute():
    engine = EvictionEngine(policy="allkeys-lfu", lfu_log_factor=10, seed=3)
    engine.write("k", 1)
    assert engine.lfu_counter("k") == LFU_INIT_VAL
    for _ in range(1000):
        engine.read("k")
    counter = engine.lfu_counter("k")
    assert 14 <= counter <= 25  # about 5 + sqrt(2 * 1000 / 10) = 19, published 18
    engine.now_ms += 3 * 60_000  # three idle minutes with lfu-decay-time 1
    assert engine.lfu_counter("k") == counter - 3


def test_noeviction_and_volatile_without_ttls_refuse_writes():
    for policy in ("noeviction", "volatile-lru", "volatile-ttl", "volatile-random"):
        engine = EvictionEngine(policy=policy, maxmemory=3)
        for key in range(4):
            engine.write(key, 1)  # the fourth write puts memory over the limit; the next one is refused
        with pytest.raises(OutOfMemory, match="command not allowed when used memory > 'maxmemory'."):
            engine.write(99, 1)
        assert engine.evicted_keys == 0


def test_volatile_policies_evict_only_keys_with_a_ttl():
    for policy in ("volatile-random", "volatile-lru", "volatile-lfu", "volatile-ttl"):
        engine = EvictionEngine(policy=policy, maxmemory=12, seed=1)
        for key in range(20):
            engine.write(key, 1, expire_ms=10**9 + key if key % 2 else None)
        assert engine.evicted_keys > 0
        assert set(range(0, 20, 2)) <= set(engine.entries)  # every key without a TTL is still there


def test_volatile_ttl_evicts_the_soonest_expiry_when_it_sees_every_key():
    engine = EvictionEngine(policy="volatile-ttl", maxmemory=8, samples=64)
    expiries = [5_000, 1_000, 9_000, 3_000, 7_000, 2_000, 8_000, 6_000, 4_000]
    for key, expire in enumerate(expiries):
        engine.write(key, 1, expire_ms=10**6 + expire)
    engine.perform_evictions()
    assert 1 not in engine.entries and len(engine) == 8  # the key expiring first went


def test_pool_keeps_sixteen_candidates_best_on_the_right():
    engine = EvictionEngine(policy="allkeys-lru", maxmemory=1000, samples=64, lru_clock_ms=1)
    for key in range(40):
        engine.now_ms = key
        engine.write(key, 1)
    engine.now_ms = 100
    engine._populate_pool(engine.main)
    idles = engine.pool_idle
    assert engine.pool_key.count(None) == 0 and len(engine.pool_key) == EVPOOL_SIZE
    assert idles == sorted(idles) and engine.pool_key[-1] == 0  # the oldest key is the best candidate


def test_more_samples_and_a_fine_clock_approach_exact_lru():
    requests = zipf_requests(2000, 1.0, 20_000, seed=5)
    exact = hit_ratio(exact_lru_hits(requests, 100), 4000)
    model = random_hit_ratio(zipf_popularity(2000, 1.0), 100)
    one = hit_ratio(
        simulate_cache_aside(requests, capacity_keys=100, policy="allkeys-lru", samples=1, lru_clock_ms=1), 4000
    )
    ten = hit_ratio(
        simulate_cache_aside(requests, capacity_keys=100, policy="allkeys-lru", samples=10, lru_clock_ms=1), 4000
    )
    assert abs(one - model) < 0.03 and abs(ten - exact) < 0.015 and ten > one + 0.02


def test_a_one_second_clock_makes_a_fast_replay_look_random():
    requests = zipf_requests(2000, 1.0, 20_000, seed=5)
    model = random_hit_ratio(zipf_popularity(2000, 1.0), 100)
    times = np.arange(len(requests)) / 100_000  # 0.2 s in all: every key idle 0 s
    fast = simulate_cache_aside(requests, capacity_keys=100, policy="allkeys-lru", times_s=times)
    assert abs(hit_ratio(fast, 4000) - model) < 0.03


def test_replays_are_deterministic_and_validated():
    requests = zipf_requests(500, 0.9, 3000, seed=1)
    first = simulate_cache_aside(requests, capacity_keys=50, policy="allkeys-lfu", seed=4)
    assert np.array_equal(first, simulate_cache_aside(requests, capacity_keys=50, policy="allkeys-lfu", seed=4))
    with pytest.raises(InvalidArgument, match="evicting policy"):
        simulate_cache_aside(requests, capacity_keys=50, policy="noeviction")
    with pytest.raises(InvalidArgument, match="one per request"):
        simulate_cache_aside(requests, capacity_keys=50, policy="allkeys-lru", times_s=[0.0])
    with pytest.raises(InvalidArgument, match="capacity_keys"):
        simulate_cache_aside(requests, capacity_keys=0, policy="allkeys-lru")


def test_cache_aside_loop_hits_counts_and_oom():
    engine = EvictionEngine(policy="allkeys-lru", maxmemory=2, lru_clock_ms=1)
    hits, resident = engine.cache_aside(["a", "b", "a", "c", "b"], [0, 1, 2, 3, 4], cost=1, ttl_ms=10, count_every=2)
    assert hits.tolist() == [False, False, True, False, False]  # the read after c's fill evicted b, the idlest
    assert resident == [2, 3, 3] and engine.evicted_keys == 1  # as in Redis, the next command evicts
    hits, _ = engine.cache_aside(["a"], [100], cost=1, ttl_ms=10)
    assert hits.tolist() == [False]  # expired after its 10 ms TTL
    full = EvictionEngine(policy="noeviction", maxmemory=1)
    with pytest.raises(OutOfMemory):
        full.cache_aside(["a", "b", "c"], [0, 1, 2], cost=1, ttl_ms=10)  # b goes over, c is refused


def test_a_cache_whose_room_changes_per_request():
    """capacity_keys may be one number per request (Valkey 9 under a deep pipeline): less room, fewer hits."""
    requests = zipf_requests(2000, 1.0, 20_000, seed=3)
    constant = simulate_cache_aside(requests, capacity_keys=200, policy="allkeys-random", seed=1)
    as_profile = simulate_cache_aside(requests, capacity_keys=np.full(20_000, 200), policy="allkeys-random", seed=1)
    assert np.array_equal(constant, as_profile)  # a constant profile is the same cache
    sagging = np.where(np.arange(20_000) % 300 < 150, 100, 200)  # half the time, half the room
    assert hit_ratio(simulate_cache_aside(requests, capacity_keys=sagging, policy="allkeys-random"), 4000) < (
        hit_ratio(constant, 4000) - 0.03
    )
    with pytest.raises(InvalidArgument, match="one whole number per request"):
        simulate_cache_aside(requests, capacity_keys=[200, 200], policy="allkeys-random")
    with pytest.raises(InvalidArgument, match="at least 1"):
        simulate_cache_aside(requests, capacity_keys=np.zeros(20_000, dtype=int), policy="allkeys-random")


def test_simulate_cache_aside_passes_lfu_decay_time_on():
    """Decay lets LFU forget yesterday's hot keys after a popularity shift; without it they stay."""
    requests = shift_popularity(zipf_requests(1_000, 0.9, 8_000, seed=4), at=4_000, offset=500, n_keys=1_000)
    times = np.arange(len(requests)) * 0.1  # 800 s: thirteen minutes of decay
    after = {
        decay: simulate_cache_aside(
            requests, capacity_keys=50, policy="allkeys-lfu", times_s=times, lfu_decay_time=decay
        )[5_000:].mean()
        for decay in (0, 1)
    }
    assert after[1] > after[0] + 0.03
