"""A stand-in Redis client over the eviction simulator, for learners with no redis-server at all.

``SimulatedRedis`` answers the handful of commands notebook 04 sends (SET/GET/DEL/TTL, CONFIG GET/SET
for the eviction settings, INFO memory/stats, OBJECT FREQ/IDLETIME, MEMORY USAGE, DBSIZE, SCAN, TIME,
and MULTI/EXEC pipelines) with the same Python types and the same error classes and texts as
redis-py on a real server. Memory is estimated per key (``estimate_key_bytes``) on top of a fixed
baseline, and the clocks are the machine's wall clock. Everything it reports is simulated, and the
notebook says so in every figure title.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import redis

from helpers.core.errors import InvalidArgument
from helpers.sim.eviction_engine import (
    FREQ_ERROR,
    IDLETIME_ERROR,
    OOM_MESSAGE,
    EvictionEngine,
    OutOfMemory,
    check_policy,
    check_samples,
)

SIMULATED_VERSION = "7.0 (simulated)"
SIMULATED_BASELINE_BYTES = 950_000  # an empty Redis 7.0 with a client or two: about 0.9 to 1 MB
SIMULATED_REQUESTS_PER_S = 130_000  # the bulk replay's pace in the simulator: about a real one's on a laptop
BIG_ARGUMENT_BYTES = 32 * 1024  # Redis reads an argument this big into a buffer of its own (PROTO_MBULK_BIG_ARG)
_JEMALLOC_CLASSES = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512]


def _allocation(size: int) -> int:
    """The jemalloc size class an allocation of ``size`` bytes really takes."""
    for size_class in _JEMALLOC_CLASSES:
        if size <= size_class:
            return size_class
    step = 1 << (max(size - 1, 1).bit_length() - 3)  # four classes per doubling above 512 bytes
    return -(-size // step) * step


def _sds_header(length: int) -> int:
    return 1 if length < 32 else 3 if length < 256 else 5 if length < 65536 else 9


def estimate_key_bytes(key: str, value: str | bytes, *, has_ttl: bool) -> int:
    """Bytes a string key costs in Redis 7 (dict entry, key, value object, expiry entry, bucket slots)."""
    key_len = len(key.encode() if isinstance(key, str) else key)
    value_len = len(value.encode() if isinstance(value, str) else value)
    cost = _allocation(24) + 8  # the dict entry and its share of the bucket array
    cost += _allocation(_sds_header(key_len) + key_len + 1)
    if value_len <= 44:  # embstr: object and string in one allocation
        cost += _allocation(16 + 3 + value_len + 1)
    else:
        cost += _allocation(16) + _allocation(max(_sds_header(value_len), 3) + value_len + 1)
    if has_ttl:
        cost += _allocation(24) + 8
    return cost


_SETTINGS = {
    "maxmemory": "maxmemory",
    "maxmemory-policy": "policy",
    "maxmemory-samples": "samples",
    "lfu-log-factor": "lfu_log_factor",
    "lfu-decay-time": "lfu_decay_time",
    "maxmemory-eviction-tenacity": "eviction_tenacity",
}
# Reported and accepted, never acted on: the simulator evicts without a time budget, as Redis does at 100.
TENACITY = "maxmemory-eviction-tenacity"


class SimulatedRedis:
    """A redis-py look-alike backed by ``EvictionEngine`` (string values only, one database)."""

    def __init__(self, *, baseline: int = SIMULATED_BASELINE_BYTES, seed: int = 0) -> None:
        self.engine = EvictionEngine(baseline=baseline, seed=seed)
        self.eviction_tenacity = 10  # Redis's default

    # -- plumbing ---------------------------------------------------------------------------------
    def _holder(self, setting: str) -> Any:
        return self if setting == TENACITY else self.engine

    def _tick(self) -> EvictionEngine:
        self.engine.now_ms = int(time.time() * 1000)
        return self.engine

    def _before_write(self) -> EvictionEngine:
        engine = self._tick()
        if not engine.perform_evictions():
            raise redis.exceptions.OutOfMemoryError(OOM_MESSAGE)
        return engine

    def close(self) -> None:
        """Nothing to close (API compatibility)."""

    def ping(self) -> bool:
        """Always answers."""
        return True

    def time(self) -> tuple[int, int]:
        """The clock the simulator uses: (seconds, microseconds)."""
        now = time.time()
        return int(now), int((now % 1) * 1_000_000)

    # -- strings ------------------------------------------------------------------------------------
    def set(self, name: str, value: Any, ex: int | None = None, px: int | None = None, **unsupported: Any) -> bool:
        """SET name value [EX s | PX ms], evicting first; OutOfMemoryError when nothing can be evicted."""
        if unsupported:
            raise InvalidArgument(f"the simulator's SET supports ex and px only, not {sorted(unsupported)}.")
        for amount in (ex, px):
            if amount is not None and int(amount) <= 0:
                raise redis.ResponseError("invalid expire time in 'set' command")
        engine = self._before_write()
        expire_ms = None
        if ex is not None:
            expire_ms = engine.now_ms + int(ex) * 1000
        elif px is not None:
            expire_ms = engine.now_ms + int(px)
        text = value if isinstance(value, str) else str(value)
        # A big argument sits in the client's query buffer while the command waits, and that buffer counts
        # as used memory: eviction must make room for it too, or the command is refused.
        in_query_buffer = len(text) if len(text) >= BIG_ARGUMENT_BYTES else 0
        engine.used += in_query_buffer
        try:
            engine.write(
                name, estimate_key_bytes(name, text, has_ttl=expire_ms is not None), expire_ms=expire_ms, value=text
            )
        except OutOfMemory:
            raise redis.exceptions.OutOfMemoryError(OOM_MESSAGE) from None
        finally:
            engine.used -= in_query_buffer
        return True

    def get(self, name: str) -> str | None:
        """GET: the value, or None; a hit touches the key's LRU clock or LFU counter."""
        entry = self._tick().read(name)
        return None if entry is None else entry.value

    def delete(self, *names: str) -> int:
        """DEL: how many of the keys existed."""
        engine = self._tick()
        return sum(1 for name in names if engine.exists(name) and engine.delete(name))

    def exists(self, *names: str) -> int:
        """EXISTS: how many of the keys exist (without touching them)."""
        engine = self._tick()
        return sum(1 for name in names if engine.exists(name))

    def pttl(self, name: str) -> int:
        """PTTL: milliseconds left, -1 without a TTL, -2 for a missing key."""
        engine = self._tick()
        if not engine.exists(name):
            return -2
        expire_ms = engine.entries[name].expire_ms
        return -1 if expire_ms is None else max(expire_ms - engine.now_ms, 0)

    def ttl(self, name: str) -> int:
        """TTL: seconds left (rounded), -1 without a TTL, -2 for a missing key."""
        left = self.pttl(name)
        return left if left < 0 else (left + 500) // 1000

    def dbsize(self) -> int:
        """DBSIZE: how many keys (expired ones included until something deletes them)."""
        return len(self.engine)

    def scan_iter(self, match: str | None = None, count: int | None = None, **_: Any) -> Iterator[str]:
        """SCAN: every live key matching the glob pattern."""
        engine = self._tick()
        for name in list(engine.entries):
            if isinstance(name, str) and (match is None or fnmatch.fnmatchcase(name, match)) and engine.exists(name):
                yield name

    def memory_usage(self, key: str, samples: int | None = None) -> int | None:
        """MEMORY USAGE: the estimated bytes of a key, or None when it does not exist."""
        engine = self._tick()
        return engine.entries[key].cost if engine.exists(key) else None

    # -- server -------------------------------------------------------------------------------------
    def config_get(self, pattern: str = "*") -> dict[str, str]:
        """CONFIG GET for the eviction settings."""
        return {
            name: str(getattr(self._holder(name), attr))
            for name, attr in _SETTINGS.items()
            if fnmatch.fnmatchcase(name, pattern)
        }

    def config_set(self, name: str, value: Any) -> bool:
        """CONFIG SET for the eviction settings (a new maxmemory evicts at once, as in Redis)."""
        if name not in _SETTINGS:
            raise redis.ResponseError(f"Unknown option or number of arguments for CONFIG SET - '{name}'")
        try:
            if name == "maxmemory-policy":
                parsed: Any = check_policy(str(value))
            elif name == "maxmemory-samples":
                parsed = check_samples(int(value))
            else:
                parsed = int(value)
                if parsed < 0 or (name == TENACITY and parsed > 100):
                    raise ValueError
        except (InvalidArgument, ValueError):
            raise redis.ResponseError(f"CONFIG SET failed (possibly related to argument '{name}')") from None
        setattr(self._holder(name), _SETTINGS[name], parsed)
        if name == "maxmemory":
            self._tick().perform_evictions()
        return True

    def info(self, section: str | None = None) -> dict[str, Any]:
        """INFO memory / stats / keyspace, with Redis's field names."""
        engine = self._tick()
        fields: dict[str, Any] = {
            "used_memory": engine.used,
            "maxmemory": engine.maxmemory,
            "maxmemory_policy": engine.policy,
            "mem_not_counted_for_evict": 0,
            "evicted_keys": engine.evicted_keys,
            "keyspace_hits": engine.keyspace_hits,
            "keyspace_misses": engine.keyspace_misses,
            "redis_version": SIMULATED_VERSION,
        }
        if len(engine):
            fields["db0"] = {"keys": len(engine), "expires": len(engine.expires), "avg_ttl": 0}
        return fields

    def object(self, infotype: str, key: str) -> int | None:
        """OBJECT FREQ (LFU policies only) and OBJECT IDLETIME (other policies only), with Redis's errors."""
        engine = self._tick()
        if not engine.exists(key):
            return None
        kind = infotype.lower()
        if kind == "freq":
            if not engine.uses_lfu:
                raise redis.ResponseError(FREQ_ERROR)
            return engine.lfu_counter(key)
        if kind == "idletime":
            if engine.uses_lfu:
                raise redis.ResponseError(IDLETIME_ERROR)
            return engine.idle_ms(key) // 1000
        raise redis.ResponseError(f"Unknown subcommand '{infotype}'. Try OBJECT HELP.")

    # -- the bulk replay's two operations (harness.bulk_replay runs them on a real server in Lua) ------
    def replay_cache_aside(
        self, names: Sequence[str], *, value_bytes: int, ttl_ms: int, chunk: int, count_every: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """GET each name, SET it on a miss: (hits, resident keys every ``count_every``, times in Unix s, seconds).

        ``chunk`` (the real replay's round trip) changes nothing here: the simulator has no pipeline.

        The requests are spaced at ``SIMULATED_REQUESTS_PER_S`` on a clock that starts now.
        """
        value = "v" * value_bytes
        cost = estimate_key_bytes(names[0], value, has_ttl=True) if len(names) else 0
        times = time.time() + np.arange(len(names)) / SIMULATED_REQUESTS_PER_S
        times_ms = (times * 1000).astype(np.int64).tolist()
        try:
            hits, resident = self.engine.cache_aside(
                names, times_ms, cost=cost, ttl_ms=ttl_ms, value=value, count_every=count_every
            )
        except OutOfMemory:
            raise redis.exceptions.OutOfMemoryError(OOM_MESSAGE) from None
        return hits, np.asarray(resident), times, len(names) / SIMULATED_REQUESTS_PER_S

    def read_repeatedly(self, key: str, times: int) -> None:
        """GET ``key`` ``times`` times, as that many cache hits would (on the engine's clock as it stands)."""
        engine = self.engine
        for _ in range(times):
            engine.read(key)

    def pipeline(self, transaction: bool = True) -> SimulatedPipeline:
        """A MULTI/EXEC look-alike: commands queue up and run together, with nothing in between."""
        return SimulatedPipeline(self)

    def __repr__(self) -> str:
        return (
            f"SimulatedRedis(policy={self.engine.policy}, maxmemory={self.engine.maxmemory}, keys={len(self.engine)})"
        )


class SimulatedPipeline:
    """Queues calls to a ``SimulatedRedis`` and runs them in one go on ``execute()``."""

    def __init__(self, client: SimulatedRedis) -> None:
        self._client = client
        self._queued: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        if not hasattr(self._client, name):
            raise AttributeError(name)

        def queue(*args: Any, **kwargs: Any) -> SimulatedPipeline:
            self._queued.append((name, args, kwargs))
            return self

        return queue

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Run the queued commands; errors are raised, or returned in place with raise_on_error=False."""
        results: list[Any] = []
        for name, args, kwargs in self._queued:
            try:
                results.append(getattr(self._client, name)(*args, **kwargs))
            except redis.RedisError as exc:
                if raise_on_error:
                    raise
                results.append(exc)
        self._queued = []
        return results

    def __enter__(self) -> SimulatedPipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._queued = []
