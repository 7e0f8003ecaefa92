"""The pipelined cache-aside replay: counts, speed, calibration, and the simulator's fidelity to real Redis."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.keys import KeySpace
from helpers.core.workloads import zipf_requests
from helpers.harness.bulk_replay import (
    calibrate_maxmemory,
    item_key,
    read_repeatedly,
    replay_cache_aside,
)
from helpers.sim.cache_models import hit_ratio
from helpers.sim.eviction_engine import simulate_cache_aside
from helpers.sim.simulated_redis import SIMULATED_REQUESTS_PER_S, SimulatedRedis

KEYS = KeySpace("04")


@pytest.fixture
def server(sandbox):
    """The session's sandbox, with this notebook's keys and eviction settings reset afterwards."""
    client = sandbox.client()
    yield client
    KEYS.cleanup(client)
    for name, value in {"maxmemory": 0, "maxmemory-policy": "noeviction", "maxmemory-samples": 5}.items():
        client.config_set(name, value)
    client.close()


def test_replay_counts_hits_exactly_like_info(server):
    requests = zipf_requests(500, 1.0, 5000, seed=1)
    before = server.info("stats")
    result = replay_cache_aside(server, requests, KEYS)
    after = server.info("stats")
    first_seen = len(np.unique(requests))
    assert int((~result.hits).sum()) == first_seen  # no limit: only first requests miss
    assert after["keyspace_hits"] - before["keyspace_hits"] == int(result.hits.sum())
    assert result.resident_keys[-1] == first_seen == server.dbsize()
    assert np.all(np.diff(result.times_s) >= 0) and server.pttl(item_key(KEYS, requests[0])) > 3_000_000


def test_two_hundred_thousand_requests_replay_under_eviction(server):
    """The full-size replay works; its speed (target: under 3 s) is measured by `make bench`, not here."""
    requests = zipf_requests(10_000, 1.0, 200_000, seed=2)
    server.config_set("maxmemory-policy", "allkeys-lru")
    server.config_set("maxmemory", calibrate_maxmemory(server, KEYS, 1000))
    result = replay_cache_aside(server, requests, KEYS)
    assert len(result.hits) == 200_000 and 0 < result.hits.mean() < 1
    assert server.info("stats")["evicted_keys"] > 0


def test_calibration_gives_about_the_wanted_resident_count(server):
    maxmemory = calibrate_maxmemory(server, KEYS, 1000)
    server.config_set("maxmemory-policy", "allkeys-random")
    server.config_set("maxmemory", maxmemory)
    result = replay_cache_aside(server, zipf_requests(10_000, 0.8, 20_000, seed=3), KEYS)
    assert 850 <= result.mean_resident(4000) <= 1050
    with pytest.raises(InvalidArgument, match="maxmemory 0"):
        calibrate_maxmemory(server, KEYS, 10)


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_simulator_is_within_two_points_of_real_redis(server, policy):
    """Same request sequence, same resident key count, same timestamps: the simulator predicts the server."""
    requests = zipf_requests(10_000, 1.0, 30_000, seed=4)
    server.config_set("maxmemory", 0)
    maxmemory = calibrate_maxmemory(server, KEYS, 1000)
    server.config_set("maxmemory-policy", policy)
    server.config_set("maxmemory", maxmemory)
    real = replay_cache_aside(server, requests, KEYS)
    resident = round(real.mean_resident(6000))
    simulated = [
        hit_ratio(
            simulate_cache_aside(requests, capacity_keys=resident, policy=policy, times_s=real.times_s, seed=seed),
            6000,
        )
        for seed in range(2)
    ]
    print(f"{policy}: real {real.hit_ratio(6000):.4f}, simulated {simulated}, resident {resident}")
    assert abs(np.mean(simulated) - real.hit_ratio(6000)) < 0.02


def test_read_repeatedly_counts_hits_in_redis(server):
    server.config_set("maxmemory-policy", "allkeys-lfu")
    server.set(item_key(KEYS, 1), "v")
    before = server.info("stats")["keyspace_hits"]
    read_repeatedly(server, item_key(KEYS, 1), 1000)
    assert server.info("stats")["keyspace_hits"] - before == 1000
    assert 12 <= server.object("freq", item_key(KEYS, 1)) <= 28


def test_simulated_replay_runs_on_the_simulated_clock():
    sim = SimulatedRedis()
    sim.config_set("maxmemory-policy", "allkeys-lru")
    sim.config_set("maxmemory", calibrate_maxmemory(sim, KEYS, 100))
    result = replay_cache_aside(sim, zipf_requests(1000, 1.0, 5000, seed=1), KEYS)
    assert result.seconds == pytest.approx(5000 / SIMULATED_REQUESTS_PER_S)
    assert 95 <= result.mean_resident(1000) <= 101 and 0 < result.hit_ratio(1000) < 1


def test_bad_input_is_refused():
    sim = SimulatedRedis()
    with pytest.raises(InvalidArgument, match="ranks"):
        replay_cache_aside(sim, [], KEYS)
    with pytest.raises(InvalidArgument, match="value_bytes"):
        replay_cache_aside(sim, [1, 2], KEYS, value_bytes=0)
    with pytest.raises(InvalidArgument, match="times"):
        read_repeatedly(sim, "k", -1)
    with pytest.raises(InvalidArgument, match="capacity_keys"):
        calibrate_maxmemory(sim, KEYS, 0)
