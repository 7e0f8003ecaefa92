"""A simulator of Redis's eviction algorithm, step for step as src/evict.c does it (Redis 6.2 and 7.0).

What it reproduces:

- **Sampling from the hash table**, not uniformly: keys live in power-of-two bucket arrays (chained,
  new keys at the head of their chain, the table doubling when it is full); ``dictGetSomeKeys`` walks
  consecutive buckets from a random index, and ``dictGetRandomKey`` (the random policies) picks a
  random non-empty bucket, then a random key of its chain.
- **The 16-entry eviction pool**, ordered by "idle" score, kept across evictions (with stale scores
  and ghosts of deleted keys), filled with ``maxmemory-samples`` keys per round.
- **The LRU clock**: one 24-bit timestamp per key with 1 s resolution, so keys touched in the same
  second look equally recent.
- **The LFU counter**: 8 bits, new keys start at 5, a hit increments it with probability
  ``1 / ((counter - 5) * lfu_log_factor + 1)``, and it decays by one per ``lfu-decay-time`` minutes.
- **volatile-ttl** ranks by soonest expiry; **volatile-*** sample only keys with a TTL; when nothing
  can be evicted, a write fails with Redis's exact OOM error.

What it simplifies: memory is the sum of per-key costs you give it (``estimate_key_bytes`` estimates
Redis's), hash tables rehash at once instead of incrementally and never shrink, the clock is read
exactly (Redis refreshes it 10 times a second), there is one database, no active expiry.

``EvictionEngine`` is the server; its ``cache_aside`` replays a request sequence through it with the
cache-aside logic the real replay runs in Redis (GET, and on a miss SET with a TTL). ``simulate_cache_aside``
wraps it for equal-sized keys, and ``SimulatedRedis`` for the bulk replay.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from helpers.core.errors import InvalidArgument, require_whole

POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
EVPOOL_SIZE = 16  # src/evict.c
LFU_INIT_VAL = 5  # src/server.h: new keys start here
LRU_CLOCK_MAX = (1 << 24) - 1
LRU_CLOCK_RESOLUTION_MS = 1000
DICT_INITIAL_SIZE = 4
OOM_MESSAGE = "command not allowed when used memory > 'maxmemory'."  # after the "OOM " error code
FREQ_ERROR = (
    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching "
    "between policies at runtime LRU and LFU data will take some time to adjust."
)
IDLETIME_ERROR = (
    "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching "
    "between policies at runtime LRU and LFU data will take some time to adjust."
)


def check_policy(policy: str) -> str:
    """Return ``policy`` if it is one of Redis's eight maxmemory policies, else raise InvalidArgument."""
    if policy not in POLICIES:
        raise InvalidArgument(f"unknown maxmemory-policy {policy!r}; use one of: {', '.join(POLICIES)}.")
    return policy


def check_samples(samples: int) -> int:
    """Return ``samples`` if it is a valid maxmemory-samples value (1..64), else raise InvalidArgument."""
    return require_whole("maxmemory-samples", samples, minimum=1, maximum=64)


class OutOfMemory(Exception):
    """A write refused because nothing could be evicted (the simulator's OOM reply)."""


class SimDict:
    """A Redis dict reduced to what eviction sees: keys in chained buckets of a power-of-two table."""

    def __init__(self, hashes: dict[Hashable, int]) -> None:
        self._hashes = hashes
        self.table: list[list[Hashable]] = [[] for _ in range(DICT_INITIAL_SIZE)]
        self.mask = DICT_INITIAL_SIZE - 1
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def add(self, key: Hashable) -> None:
        """Insert a key that is not present (at the head of its chain, growing the table when full)."""
        if self.count >= self.mask + 1:
            self._resize(2 * (self.mask + 1))
        self.table[self._hashes[key] & self.mask].insert(0, key)
        self.count += 1

    def remove(self, key: Hashable) -> None:
        """Delete a key that is present."""
        self.table[self._hashes[key] & self.mask].remove(key)
        self.count -= 1

    def _resize(self, size: int) -> None:
        old = self.table
        self.table = [[] for _ in range(size)]
        self.mask = size - 1
        for chain in old:
            for key in chain:  # like dictRehash: each moved key goes to the head of its new chain
                self.table[self._hashes[key] & self.mask].insert(0, key)

    def some_keys(self, count: int, rng: random.Random) -> list[Hashable]:
        """dictGetSomeKeys: up to ``count`` keys from consecutive buckets starting at a random one."""
        count = min(count, self.count)
        found: list[Hashable] = []
        if count == 0:
            return found
        mask, table = self.mask, self.table
        i = rng.getrandbits(64) & mask
        empty_run = 0
        steps = count * 10
        while len(found) < count and steps:
            steps -= 1
            chain = table[i]
            if not chain:
                empty_run += 1
                if empty_run >= 5 and empty_run > count:
                    i = rng.getrandbits(64) & mask
                    empty_run = 0
            else:
                empty_run = 0
                for key in chain:
                    found.append(key)
                    if len(found) == count:
                        return found
            i = (i + 1) & mask
        return found

    def random_key(self, rng: random.Random) -> Hashable:
        """dictGetRandomKey: a random non-empty bucket, then a random key of its chain."""
        mask, table = self.mask, self.table
        while True:
            chain = table[rng.getrandbits(64) & mask]
            if chain:
                return chain[int(rng.random() * len(chain)) % len(chain)]


@dataclass
class Entry:
    """What the simulator keeps per key: Redis's 24-bit ``lru`` field, its memory cost, its expiry, its value."""

    lru: int
    cost: int
    expire_ms: int | None = None
    value: object = None


class EvictionEngine:
    """A single-database Redis memory manager: ``maxmemory``, a policy, the pool, the LRU/LFU fields."""

    def __init__(
        self,
        *,
        policy: str = "noeviction",
        maxmemory: int = 0,
        samples: int = 5,
        lfu_log_factor: int = 10,
        lfu_decay_time: int = 1,
        baseline: int = 0,
        lru_clock_ms: int = LRU_CLOCK_RESOLUTION_MS,
        seed: int = 0,
    ) -> None:
        self.policy = check_policy(policy)
        self.maxmemory = require_whole("maxmemory", maxmemory)
        self.samples = check_samples(samples)
        self.lfu_log_factor = require_whole("lfu-log-factor", lfu_log_factor)
        self.lfu_decay_time = require_whole("lfu-decay-time", lfu_decay_time)
        self.baseline = require_whole("baseline", baseline)
        self.lru_clock_ms = require_whole("lru_clock_ms", lru_clock_ms) or 1
        self.rng = random.Random(seed)
        self.now_ms = 0
        self.entries: dict[Hashable, Entry] = {}
        self._hashes: dict[Hashable, int] = {}  # the "siphash" of each key ever seen, fixed per engine
        self.main = SimDict(self._hashes)
        self.expires = SimDict(self._hashes)
        self.pool_key: list[Hashable | None] = [None] * EVPOOL_SIZE
        self.pool_idle: list[int] = [0] * EVPOOL_SIZE
        self.used = self.baseline
        self.evicted_keys = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0

    # -- clocks -------------------------------------------------------------------------------------
    def lru_clock(self) -> int:
        """The 24-bit LRU clock: whole seconds in Redis (``LRU_CLOCK()``), finer if ``lru_clock_ms`` says so."""
        return (self.now_ms // self.lru_clock_ms) & LRU_CLOCK_MAX

    def _minutes(self) -> int:
        return (self.now_ms // 60_000) & 65535

    @property
    def uses_lfu(self) -> bool:
        """True when the policy is an LFU one (the ``lru`` field then holds minutes and a counter)."""
        return self.policy.endswith("-lfu")

    def _new_lru(self) -> int:
        return (self._minutes() << 8) | LFU_INIT_VAL if self.uses_lfu else self.lru_clock()

    def idle_ms(self, key: Hashable) -> int:
        """estimateObjectIdleTime: milliseconds since the key's last access, in whole seconds."""
        clock, lru = self.lru_clock(), self.entries[key].lru
        ticks = clock - lru if clock >= lru else clock + (LRU_CLOCK_MAX - lru)
        return ticks * self.lru_clock_ms

    def lfu_counter(self, key: Hashable) -> int:
        """LFUDecrAndReturn: the key's counter after the decay owed since its last access."""
        lru = self.entries[key].lru
        ldt, counter = lru >> 8, lru & 255
        if not self.lfu_decay_time:
            return counter
        now = self._minutes()
        elapsed = now - ldt if now >= ldt else 65535 - ldt + now
        periods = elapsed // self.lfu_decay_time
        return 0 if periods > counter else counter - periods

    def _lfu_incr(self, counter: int) -> int:
        if counter == 255:
            return 255
        base = max(counter - LFU_INIT_VAL, 0)
        if self.rng.random() < 1.0 / (base * self.lfu_log_factor + 1):
            counter += 1
        return counter

    def touch(self, key: Hashable) -> None:
        """What a read or write lookup does to a key's LRU clock or LFU counter."""
        entry = self.entries[key]
        if self.uses_lfu:
            entry.lru = (self._minutes() << 8) | self._lfu_incr(self.lfu_counter(key))
        else:
            entry.lru = self.lru_clock()

    # -- keyspace -----------------------------------------------------------------------------------
    def exists(self, key: Hashable) -> bool:
        """True if the key is present and not expired (an expired key is deleted, lazily, as in Redis)."""
        entry = self.entries.get(key)
        if entry is None:
            return False
        if entry.expire_ms is not None and self.now_ms > entry.expire_ms:
            self.delete(key)
            return False
        return True

    def read(self, key: Hashable) -> Entry | None:
        """A GET: a hit touches the key; counts keyspace hits and misses."""
        self.perform_evictions()
        if not self.exists(key):
            self.keyspace_misses += 1
            return None
        self.keyspace_hits += 1
        self.touch(key)
        return self.entries[key]

    def write(self, key: Hashable, cost: int, *, expire_ms: int | None = None, value: object = None) -> None:
        """A SET (which drops any old TTL): evict first, raise OutOfMemory if nothing could be freed."""
        if not self.perform_evictions():
            raise OutOfMemory(OOM_MESSAGE)
        if self.exists(key):  # an overwrite keeps the key where it is in the tables
            self.touch(key)
            entry = self.entries[key]
            if not self.uses_lfu:  # the new value object gets a fresh clock; an LFU counter is carried over
                entry.lru = self.lru_clock()
            if entry.expire_ms is not None and expire_ms is None:
                self.expires.remove(key)
            elif entry.expire_ms is None and expire_ms is not None:
                self.expires.add(key)
            self.used += int(cost) - entry.cost
            entry.cost, entry.expire_ms, entry.value = int(cost), expire_ms, value
            return
        lru = self._new_lru()
        if key not in self._hashes:
            self._hashes[key] = self.rng.getrandbits(64)
        self.entries[key] = Entry(lru=lru, cost=int(cost), expire_ms=expire_ms, value=value)
        self.main.add(key)
        if expire_ms is not None:
            self.expires.add(key)
        self.used += int(cost)

    def delete(self, key: Hashable) -> bool:
        """Remove a key (no eviction check: DEL is allowed at the limit)."""
        entry = self.entries.pop(key, None)
        if entry is None:
            return False
        self.main.remove(key)
        if entry.expire_ms is not None:
            self.expires.remove(key)
        self.used -= entry.cost
        return True

    # -- eviction -----------------------------------------------------------------------------------
    def perform_evictions(self) -> bool:
        """Evict until used memory is within maxmemory; False if that was impossible (writes then fail)."""
        if not self.maxmemory or self.used <= self.maxmemory:
            return True
        if self.policy == "noeviction":
            return False
        while self.used > self.maxmemory:
            victim = self._pick_victim()
            if victim is None:
                return False
            self.delete(victim)
            self.evicted_keys += 1
        return True

    def _pick_victim(self) -> Hashable | None:
        sample_from = self.main if self.policy.startswith("allkeys") else self.expires
        if self.policy.endswith("random"):
            return sample_from.random_key(self.rng) if len(sample_from) else None
        pool_key, pool_idle = self.pool_key, self.pool_idle
        while True:
            if not len(sample_from):
                return None
            self._populate_pool(sample_from)
            for k in range(EVPOOL_SIZE - 1, -1, -1):
                key = pool_key[k]
                if key is None:
                    continue
                pool_key[k], pool_idle[k] = None, 0
                if key in self.entries and (sample_from is self.main or self.entries[key].expire_ms is not None):
                    return key
                # a ghost (deleted since it was sampled): try the next one

    def _score(self, key: Hashable) -> int:
        if self.policy.endswith("-lru"):
            return self.idle_ms(key)
        if self.uses_lfu:
            return 255 - self.lfu_counter(key)
        return (1 << 64) - 1 - self.entries[key].expire_ms  # volatile-ttl: the sooner the expiry, the better

    def _populate_pool(self, sample_from: SimDict) -> None:
        """evictionPoolPopulate, line for line: insert each sampled key by score, best on the right."""
        pool_key, pool_idle = self.pool_key, self.pool_idle
        last = EVPOOL_SIZE - 1
        for key in sample_from.some_keys(self.samples, self.rng):
            idle = self._score(key)
            k = 0
            while k < EVPOOL_SIZE and pool_key[k] is not None and pool_idle[k] < idle:
                k += 1
            if k == 0 and pool_key[last] is not None:
                continue  # worse than everything in a full pool
            if k < EVPOOL_SIZE and pool_key[k] is None:
                pass  # an empty slot
            elif pool_key[last] is None:  # room on the right: shift right from k
                pool_key[k + 1 :] = pool_key[k:last]
                pool_idle[k + 1 :] = pool_idle[k:last]
            else:  # full: drop the leftmost (lowest score) and insert at k - 1
                k -= 1
                pool_key[:k] = pool_key[1 : k + 1]
                pool_idle[:k] = pool_idle[1 : k + 1]
            pool_key[k], pool_idle[k] = key, idle

    # -- cache-aside ---------------------------------------------------------------------------------
    def cache_aside(
        self,
        keys: Sequence[Hashable],
        times_ms: Sequence[int],
        *,
        cost: int,
        ttl_ms: int,
        value: object = None,
        count_every: int = 0,
        capacities: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[int]]:
        """Request ``keys[i]`` at ``times_ms[i]``: GET, and on a miss SET it with a TTL (OutOfMemory if refused).

        Returns the per-request hits and, every ``count_every`` requests and after the last one, how many
        keys were resident (none with ``count_every=0``). ``capacities[i]``, if given, is the maxmemory in
        force at request ``i`` (a cache whose room changes while it runs). The one cache-aside loop of the
        simulator.
        """
        hits = np.zeros(len(keys), dtype=bool)
        resident: list[int] = []
        for i, (key, now_ms) in enumerate(zip(keys, times_ms, strict=True)):
            self.now_ms = now_ms
            if capacities is not None:
                self.maxmemory = capacities[i]
            if self.read(key) is not None:
                hits[i] = True
            else:
                self.write(key, cost, expire_ms=now_ms + ttl_ms, value=value)
            if count_every and ((i + 1) % count_every == 0 or i + 1 == len(keys)):
                resident.append(len(self.entries))
        return hits, resident

    def __len__(self) -> int:
        return len(self.entries)


# -- replaying a request sequence ------------------------------------------------------------------
def simulate_cache_aside(
    ranks: Sequence[int] | np.ndarray,
    *,
    capacity_keys: int | Sequence[int] | np.ndarray,
    policy: str,
    samples: int = 5,
    times_s: Sequence[float] | np.ndarray | None = None,
    lru_clock_ms: int = LRU_CLOCK_RESOLUTION_MS,
    ttl_s: float = 3600.0,
    lfu_log_factor: int = 10,
    lfu_decay_time: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Replay key ranks through the simulator as cache-aside (GET; on a miss SET with a TTL); per-request hits.

    The cache holds ``capacity_keys`` equal keys: one number, or one per request for a cache whose room
    changes while it runs (as on Valkey 9, where a deep pipeline's parsed commands take memory from the
    keys; ``ReplayResult.resident_per_request()`` measures it). Request ``i`` happens at ``times_s[i]`` (seconds; by
    default one request per millisecond). ``lru_clock_ms`` is the LRU clock's resolution: 1000 in Redis;
    1 with the default times gives every request its own tick (Redis's algorithm with a fine clock).
    """
    check_policy(policy)
    if policy == "noeviction":
        raise InvalidArgument("simulate_cache_aside needs an evicting policy, not 'noeviction'.")
    ranks = np.asarray(ranks)
    capacities = np.asarray(capacity_keys)
    if capacities.ndim == 0:
        capacities = np.full(len(ranks), require_whole("capacity_keys", capacity_keys, minimum=1), dtype=np.int64)
    elif len(capacities) != len(ranks) or not np.issubdtype(capacities.dtype, np.integer):
        raise InvalidArgument(f"capacity_keys needs one whole number per request ({len(ranks)}), or a single one.")
    if len(capacities) and capacities.min() < 1:
        raise InvalidArgument("capacity_keys must be at least 1.")
    if times_s is not None:
        times_ms = (np.asarray(times_s, dtype=float) * 1000).astype(np.int64)
        if len(times_ms) != len(ranks):
            raise InvalidArgument(
                f"times_s has {len(times_ms)} entries for {len(ranks)} requests; give one per request."
            )
    else:
        times_ms = np.arange(len(ranks), dtype=np.int64)
    engine = EvictionEngine(
        policy=policy,
        maxmemory=int(capacities[0]) if len(capacities) else 1,
        samples=samples,
        lfu_log_factor=lfu_log_factor,
        lfu_decay_time=lfu_decay_time,
        lru_clock_ms=lru_clock_ms,
        seed=seed,
    )
    hits, _ = engine.cache_aside(
        ranks.tolist(), times_ms.tolist(), cost=1, ttl_ms=int(ttl_s * 1000), capacities=capacities.tolist()
    )
    return hits
