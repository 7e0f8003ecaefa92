"""The simulator's client answers like redis-py on a real server: values, types, errors, memory estimates."""

from __future__ import annotations

import pytest
import redis

from helpers.core.errors import InvalidArgument
from helpers.sim.simulated_redis import SimulatedRedis, estimate_key_bytes


@pytest.fixture
def sim() -> SimulatedRedis:
    return SimulatedRedis()


def test_strings_ttls_and_scan(sim):
    assert sim.set("rcp:04:a", "1", ex=100) and sim.set("rcp:04:b", "2") and sim.set("other", "3")
    assert sim.get("rcp:04:a") == "1" and sim.get("missing") is None
    assert 99 <= sim.ttl("rcp:04:a") <= 100 and sim.ttl("rcp:04:b") == -1 and sim.ttl("missing") == -2
    assert sorted(sim.scan_iter(match="rcp:04:*")) == ["rcp:04:a", "rcp:04:b"]
    assert sim.delete("rcp:04:a", "missing") == 1 and sim.dbsize() == 2
    assert sim.info("keyspace")["db0"]["keys"] == 2
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        sim.set("k", "v", px=0)
    with pytest.raises(InvalidArgument, match="ex and px only"):
        sim.set("k", "v", nx=True)


def test_config_and_oom(sim):
    base = sim.info("memory")["used_memory"]
    sim.config_set("maxmemory", base + 3000)
    with pytest.raises(redis.exceptions.OutOfMemoryError) as refused:
        for i in range(10):
            sim.set(f"k{i}", "x" * 1000)
    assert str(refused.value) == "command not allowed when used memory > 'maxmemory'."
    sim.config_set("maxmemory-policy", "allkeys-random")
    sim.set("new", "x" * 1000)
    assert sim.info("stats")["evicted_keys"] >= 1
    assert sim.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-random"}
    with pytest.raises(redis.ResponseError, match="CONFIG SET failed"):
        sim.config_set("maxmemory-policy", "most-recent")
    with pytest.raises(redis.ResponseError, match="Unknown option"):
        sim.config_set("save", "")
    assert sim.config_get("maxmemory-eviction-tenacity") == {"maxmemory-eviction-tenacity": "10"}
    sim.config_set("maxmemory-eviction-tenacity", 100)  # accepted (the simulator never runs out of time)
    with pytest.raises(redis.ResponseError, match="CONFIG SET failed"):
        sim.config_set("maxmemory-eviction-tenacity", 101)


def test_a_write_bigger_than_eviction_can_free_is_refused_under_allkeys(sim):
    base = sim.info("memory")["used_memory"]
    sim.config_set("maxmemory-policy", "allkeys-lru")
    sim.config_set("maxmemory", base + 64 * 1024)
    for i in range(20):
        sim.set(f"k{i}", "x" * 1000)
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="maxmemory"):
        sim.set("too-big", "x" * 128 * 1024)  # its query buffer alone is over the limit
    assert sim.dbsize() == 0  # eviction emptied the cache trying to make room, and still refused the write
    assert sim.info("memory")["used_memory"] == base  # the query buffer is gone with the command
    sim.set("small", "x" * 1000)  # small writes go through again


def test_object_and_transactions(sim):
    sim.set("k", "v")
    assert sim.object("idletime", "k") == 0
    with pytest.raises(redis.ResponseError, match="LFU maxmemory policy is not selected"):
        sim.object("freq", "k")
    sim.config_set("maxmemory-policy", "allkeys-lfu")
    sim.set("f", "v")
    assert sim.object("freq", "f") == 5
    with pytest.raises(redis.ResponseError, match="LFU maxmemory policy is selected"):
        sim.object("idletime", "f")
    with sim.pipeline(transaction=True) as tx:
        tx.get("f")
        tx.object("freq", "nope")
        assert tx.execute() == ["v", None]


def test_estimate_is_close_to_a_real_server(real_client):
    for value in ("x" * 20, "x" * 1000, "y" * 5000):
        real_client.set("rcp:04:estimate", value, ex=100)
        real = real_client.memory_usage("rcp:04:estimate")
        assert estimate_key_bytes("rcp:04:estimate", value, has_ttl=True) == pytest.approx(real, rel=0.25)
    real_client.delete("rcp:04:estimate")


def test_same_error_texts_as_a_real_server(real_client, sim):
    real_client.set("rcp:04:err", "v")
    sim.set("rcp:04:err", "v")
    with pytest.raises(redis.ResponseError) as real_error:
        real_client.object("freq", "rcp:04:err")
    with pytest.raises(redis.ResponseError) as sim_error:
        sim.object("freq", "rcp:04:err")
    assert str(real_error.value) == str(sim_error.value)
    real_client.delete("rcp:04:err")


def test_the_bulk_replays_two_operations():
    """What harness.bulk_replay asks of a server, answered by the engine's one cache-aside loop."""
    sim = SimulatedRedis()
    names = ["a", "b", "a", "c", "a", "b"]
    hits, resident, times, seconds = sim.replay_cache_aside(
        names, value_bytes=100, ttl_ms=60_000, chunk=8, count_every=4
    )
    assert hits.tolist() == [False, False, True, False, True, True]
    assert resident.tolist() == [3, 3]  # after the 4th request and after the last
    assert times.shape == (6,) and seconds > 0 and sim.pttl("a") > 59_000
    sim.config_set("maxmemory-policy", "allkeys-lfu")
    sim.read_repeatedly("a", 500)
    assert sim.info()["keyspace_hits"] == 3 + 500 and sim.object("freq", "a") > 5


def test_the_bulk_replay_reports_oom_as_redis_does():
    sim = SimulatedRedis()
    sim.config_set("maxmemory", 1)  # below the baseline, noeviction: every write is refused
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="maxmemory"):
        sim.replay_cache_aside(["a"], value_bytes=10, ttl_ms=1000, chunk=10, count_every=10)
