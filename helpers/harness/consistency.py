"""Measure how well a caching strategy keeps the cache consistent with the database.

A *strategy* is a pair of functions written in the notebook:

- ``read(cache, db, user_id) -> row``: return the user's row, from the cache when it can;
- ``write(cache, db, user_id, **changes) -> row``: change the user in the database and deal with the cache.

``measure`` runs one seeded sequence of reads and writes on one thread and counts what each strategy
costs (database reads, cache writes, stale reads, entries written but never read). ``stress`` runs
many threads at once, with seeded jitter on every database reply so that slow and fast replies
overtake each other, and counts stale reads and the entries left disagreeing with the database.
Cached rows live under ``keys.key("user", user_id)``, as a JSON string or a hash with a ``row`` field.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import redis

from helpers.core.backend import new_connection
from helpers.core.capabilities import capabilities
from helpers.core.clock import REAL_CLOCK, Clock
from helpers.core.errors import InvalidArgument, require_non_negative, require_positive, require_whole
from helpers.core.keys import KeySpace
from helpers.core.primary_db import CITIES, PrimaryDatabase
from helpers.core.workloads import zipf_requests
from helpers.harness.intercept import Command, CommandHook, intercept
from helpers.harness.rows import cached_row

Read = Callable[[redis.Redis, PrimaryDatabase], dict]
Write = Callable[..., dict]


@dataclass(frozen=True)
class Operation:
    """One request of a workload: read a user, or write a new city for them."""

    kind: str  # "read" or "write"
    user_id: int
    city: str = ""

    def __repr__(self) -> str:
        return f"write {self.user_id} city={self.city}" if self.kind == "write" else f"read {self.user_id}"


def read_write_workload(
    n_ops: int, users: int, write_share: float, *, skew: float = 1.0, seed: int = 0
) -> list[Operation]:
    """``n_ops`` seeded operations on users 1..``users``: Zipf-popular reads, uniform writes of a new city."""
    require_whole("n_ops", n_ops, minimum=1)
    require_whole("users", users, minimum=1)
    _require_share("write_share", write_share)
    rng = np.random.default_rng(seed)
    readers = zipf_requests(users, skew, n_ops, seed) + 1
    is_write = rng.random(n_ops) < write_share
    write_targets = rng.integers(1, users + 1, size=n_ops)
    cities = rng.integers(0, len(CITIES), size=n_ops)
    return [
        Operation("write", int(write_targets[i]), CITIES[int(cities[i])])
        if is_write[i]
        else Operation("read", int(readers[i]))
        for i in range(n_ops)
    ]


# -- one thread, counted --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measurement:
    """What one strategy did under one workload (counts are exact and the same on every run)."""

    strategy: str
    reads: int
    writes: int
    stale_reads: int  # reads that returned an older version than the database held
    database_reads: int
    cache_writes: int  # SET commands sent to the cache
    never_read: int  # cache writes that no read ever hit before the entry was replaced, deleted or the run ended
    never_read_value_bytes: int  # bytes of the values of the entries still cached, written and never read
    never_read_memory_bytes: int | None  # MEMORY USAGE of those entries (None: the backend does not report it)


def measure(
    strategy: str,
    read: Read,
    write: Write,
    cache: redis.Redis,
    db: PrimaryDatabase,
    keys: KeySpace,
    workload: Sequence[Operation],
) -> Measurement:
    """Run ``workload`` through one strategy on one thread, from an empty cache, and count its costs.

    Every key under ``keys`` is deleted first, so each strategy starts from the same empty cache.
    """
    if not workload:
        raise InvalidArgument("measure() needs a non-empty workload, e.g. read_write_workload(600, 50, 0.1).")
    keys.cleanup(cache)
    counter = _CommandCounter()
    counted = counter.attach(new_connection(cache))
    newest: dict[int, int] = {}  # the version of each user's latest write in this run
    stale = reads = writes = 0
    database_reads_before = db.reads
    try:
        for op in workload:
            if op.kind == "read":
                reads += 1
                row = read(counted, db, op.user_id)
                stale += row["version"] < newest.get(op.user_id, 0)
            else:
                writes += 1
                newest[op.user_id] = write(counted, db, op.user_id, city=op.city)["version"]
    finally:
        counted.close()
    unread_now = [key for key in counter.unread_keys() if cache.exists(key)]
    value_bytes = sum(int(cache.strlen(key)) for key in unread_now)
    memory = None
    if capabilities(cache).memory_usage:
        memory = sum(int(cache.memory_usage(key, samples=0) or 0) for key in unread_now)
    return Measurement(
        strategy=strategy,
        reads=reads,
        writes=writes,
        stale_reads=stale,
        database_reads=db.reads - database_reads_before,
        cache_writes=counter.sets,
        never_read=counter.wasted + len(unread_now),
        never_read_value_bytes=value_bytes,
        never_read_memory_bytes=memory,
    )


class _CommandCounter(CommandHook):
    """Counts SETs, and the entries set but never hit by a GET before they were replaced or deleted.

    It sees every command of the client it is attached to, those queued in pipelines and MULTI/EXEC too.
    """

    def __init__(self) -> None:
        self.sets = 0
        self.wasted = 0
        self._unread: set[str] = set()
        self._lock = threading.Lock()

    def attach(self, client: redis.Redis) -> redis.Redis:
        """Record every command ``client`` sends from now on; return the same client."""
        return intercept(client, self)

    def saw(self, command: Command, reply: object) -> None:
        """Count one command that got ``reply``."""
        args = command.keys_and_values
        with self._lock:
            if command.name == "GET" and reply is not None:
                self._unread.discard(args[0])
            elif command.name == "SET":
                self.sets += 1
                self.wasted += args[0] in self._unread
                self._unread.add(args[0])
            elif command.name in {"DEL", "UNLINK"}:
                for key in args:
                    self.wasted += key in self._unread
                    self._unread.discard(key)

    def unread_keys(self) -> list[str]:
        """The keys written to the cache and not read since, sorted."""
        with self._lock:
            return sorted(self._unread)


# -- many threads -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StressResult:
    """What many threads doing random reads and writes left behind (varies from run to run)."""

    strategy: str
    reads: int
    writes: int
    stale_reads: int  # reads that returned a version older than one whose write had already returned
    inconsistent_entries: int  # cached rows left disagreeing with the database when all threads had finished
    users: int
    finished: bool  # False when the time limit stopped the threads early


def stress(
    strategy: str,
    read: Read,
    write: Write,
    cache: redis.Redis,
    db: PrimaryDatabase,
    keys: KeySpace,
    *,
    users: int = 4,
    threads: int = 8,
    ops_per_thread: int = 40,
    write_share: float = 0.3,
    jitter_ms: float = 3.0,
    seed: int = 0,
    time_limit_s: float = 10.0,
    clock: Clock = REAL_CLOCK,
) -> StressResult:
    """Run ``threads`` threads of seeded random reads and writes on ``users`` hot users, then check the cache.

    Every key under ``keys`` is deleted first. The threads start together at a barrier and stop after
    ``ops_per_thread`` operations each, or at ``time_limit_s`` on ``clock``, whichever comes first; the
    database's jitter sleeps on the same clock.
    """
    require_whole("users", users, minimum=1)
    require_whole("threads", threads, minimum=1)
    require_whole("ops_per_thread", ops_per_thread, minimum=1)
    require_non_negative("jitter_ms", jitter_ms)
    require_positive("time_limit_s", time_limit_s)
    _require_share("write_share", write_share)
    user_ids = list(range(1, users + 1))
    keys.cleanup(cache)
    state = _StressState(clock, clock.now() + time_limit_s)
    start = threading.Barrier(threads)
    workers = [
        threading.Thread(
            target=_stress_worker,
            args=(read, write, new_connection(cache), db, state, start),
            kwargs={
                "rng": random.Random(seed * 1000 + index),
                "user_ids": user_ids,
                "ops": ops_per_thread,
                "write_share": write_share,
                "jitter_ms": jitter_ms,
            },
            name=f"stress-{index}",
            daemon=True,
        )
        for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(time_limit_s + 30)
    if state.failures:
        raise state.failures[0]
    inconsistent = 0
    for user_id in user_ids:
        cached = cached_row(cache, keys.key("user", user_id))
        inconsistent += cached is not None and cached != db.get_user(user_id)
    return StressResult(
        strategy=strategy,
        reads=state.reads,
        writes=state.writes,
        stale_reads=state.stale_reads,
        inconsistent_entries=inconsistent,
        users=users,
        finished=not state.timed_out,
    )


class _StressState:
    def __init__(self, clock: Clock, deadline: float) -> None:
        self.clock = clock
        self.deadline = deadline
        self.lock = threading.Lock()
        self.returned: dict[int, int] = {}  # user -> newest version whose write has returned
        self.reads = self.writes = self.stale_reads = 0
        self.timed_out = False
        self.failures: list[BaseException] = []


class _JitteryDatabase:
    """The primary database with a seeded random extra delay (0..jitter_ms) on the way back of each reply."""

    def __init__(self, db: PrimaryDatabase, rng: random.Random, jitter_ms: float, clock: Clock) -> None:
        self._db, self._rng, self._jitter_s, self._clock = db, rng, jitter_ms / 1000.0, clock

    def get_user(self, user_id: int) -> dict | None:
        """Read one user; the reply takes a little longer to come back."""
        row = self._db.get_user(user_id)
        self._clock.sleep(self._rng.uniform(0, self._jitter_s))
        return row

    def update_user(self, user_id: int, **changes: str) -> dict:
        """Update one user; the reply takes a little longer to come back."""
        row = self._db.update_user(user_id, **changes)
        self._clock.sleep(self._rng.uniform(0, self._jitter_s))
        return row

    def __getattr__(self, name: str):
        return getattr(self._db, name)


def _stress_worker(read, write, cache, db, state, start, *, rng, user_ids, ops, write_share, jitter_ms) -> None:
    jittery = _JitteryDatabase(db, rng, jitter_ms, state.clock)
    try:
        start.wait(timeout=30)
        for _ in range(ops):
            if state.clock.now() > state.deadline:
                state.timed_out = True
                return
            user_id = rng.choice(user_ids)
            if rng.random() < write_share:
                row = write(cache, jittery, user_id, city=rng.choice(CITIES))
                with state.lock:
                    state.writes += 1
                    state.returned[user_id] = max(state.returned.get(user_id, 0), row["version"])
            else:
                with state.lock:
                    floor = state.returned.get(user_id, 0)
                row = read(cache, jittery, user_id)
                with state.lock:
                    state.reads += 1
                    state.stale_reads += row["version"] < floor
    except BaseException as exc:  # reported by stress() in the caller's thread
        with state.lock:
            state.failures.append(exc)
    finally:
        cache.close()


# -- tables -------------------------------------------------------------------------------------------
def measurement_table(results: Sequence[Measurement]) -> str:
    """The measurements side by side, one strategy a row (exact counts: the same on every run)."""
    header = (
        f"{'strategy':<16}{'stale reads':>12}{'db reads':>10}{'cache writes':>14}"
        f"{'never read':>12}{'bytes never read':>18}"
    )
    results = list(results)
    rows = [
        f"{m.strategy:<16}{m.stale_reads:>12}{m.database_reads:>10}{m.cache_writes:>14}"
        f"{m.never_read:>12}{m.never_read_value_bytes:>18}"
        for m in results
    ]
    first = results[0] if results else None
    footer = f"({first.reads} reads and {first.writes} writes each)" if first else ""
    return "\n".join([header, *rows, footer])


def stress_table(results: Sequence[StressResult]) -> str:
    """The stress results side by side, one strategy a row."""
    header = f"{'strategy':<22}{'reads':>7}{'writes':>8}{'stale reads':>13}{'left inconsistent':>19}"
    rows = [
        f"{s.strategy:<22}{s.reads:>7}{s.writes:>8}{s.stale_reads:>13}{s.inconsistent_entries:>13} of {s.users}"
        for s in results
    ]
    return "\n".join([header, *rows])


def _require_share(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidArgument(f"{name} must be a number from 0 to 1, got {value!r}.")
