"""Notebook 08's checkers: a read that survives a paused server (08.1) and negative caching (08.2).

08.1 runs a herd of reader threads against a private redis-server of its own and pauses it (SIGSTOP) in the middle.
Its requirements count (exceptions, wrong answers, failed Redis calls, database queries, requests slower than a
bound far above a right solution's waits), so a loaded machine passes a right solution and fails a wrong one. 08.2
counts database queries on the notebook's own client; no timing at all.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import redis

from helpers.core.errors import RedisServerNotFound
from helpers.core.primary_db import PrimaryDatabase
from helpers.core.sandbox import SandboxRedis
from helpers.exercises.framework import checker, expect

MAX_TIMEOUT_S = 0.1  # the longest connect or socket timeout 08.1 accepts
READERS = 4
USERS = 200
WARM_S, PAUSED_S, AFTER_S = 0.5, 1.0, 1.0
RECOVERED_AFTER_S = 0.6  # after the resume, reads must come from Redis again from here on
WAIT_BOUND_S = 0.3  # most requests made during the pause must wait less (a blocked one waits for all of it)
NEGATIVE_TTL_BOUND_MS = 60_000


@dataclass(frozen=True)
class Request:
    """One reader request of the herd: when it started, how long it took, and whether it went right."""

    start: float
    latency: float
    correct: bool
    error: str = ""


class CountingCache:
    """Forwards every command to ``client``, and records when each failed (and how many ran)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.failures: list[float] = []
        self.calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        command = getattr(self._client, name)
        if not callable(command):
            return command

        def counted(*args: object, **kwargs: object) -> object:
            with self._lock:
                self.calls += 1
            try:
                return command(*args, **kwargs)
            except redis.exceptions.RedisError:
                with self._lock:
                    self.failures.append(time.perf_counter())
                raise

        return counted


def _retries(client: redis.Redis) -> int:
    retry = client.get_retry() if hasattr(client, "get_retry") else None
    retry = retry or client.connection_pool.connection_kwargs.get("retry")
    return int(getattr(retry, "_retries", 0) or 0) if retry is not None else 0


def _herd(cache: CountingCache, read: Callable[[int], object], expected: dict, pid: int) -> tuple[list, float, float]:
    """Readers for WARM_S, the server paused for PAUSED_S, then AFTER_S more; returns requests and the pause."""
    requests: list[Request] = []
    lock = threading.Lock()
    stop = threading.Event()
    popularity = np.arange(1, USERS + 1, dtype=float) ** -1.0
    popularity /= popularity.sum()

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            user_id = int(rng.choice(USERS, p=popularity)) + 1
            started = time.perf_counter()
            error, correct = "", False
            try:
                correct = read(user_id) == expected[user_id]
            except Exception as exc:  # anything reaching the reader is a failure of the exercise
                error = f"{type(exc).__name__}: {exc}"
            with lock:
                requests.append(Request(started, time.perf_counter() - started, correct, error))

    threads = [threading.Thread(target=reader, args=(seed,), daemon=True) for seed in range(READERS)]
    for thread in threads:
        thread.start()
    paused_at = resumed_at = 0.0
    try:
        time.sleep(WARM_S)
        os.kill(pid, signal.SIGSTOP)
        paused_at = time.perf_counter()
        try:
            time.sleep(PAUSED_S)
        finally:
            os.kill(pid, signal.SIGCONT)
            resumed_at = time.perf_counter()
        time.sleep(AFTER_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return requests, paused_at, resumed_at


# -- 08.1 · survive a paused server --------------------------------------------------------------------------
@checker("08.1")
def check_fail_open(
    fail_open_client: Callable[[str], redis.Redis],
    get_profile_resilient: Callable[[object, PrimaryDatabase, object, int], object],
    make_breaker: Callable[[], object],
) -> str:
    """Pause a private server under a herd of readers; require no errors, short waits, a breaker and recovery."""
    try:
        server = SandboxRedis().start()
    except RedisServerNotFound:
        expect(
            False, "this check needs a private redis-server, and none is installed.", "See the README, 'Which Redis?'."
        )
    try:
        client = fail_open_client(server.url)
        options = client.connection_pool.connection_kwargs
        for name in ("socket_timeout", "socket_connect_timeout"):
            value = options.get(name)
            expect(
                value is not None and value <= MAX_TIMEOUT_S,
                f"the client's {name} is {value!r}: a hung server would hold each request that long (None: forever).",
                f"Pass {name}=0.05 (at most {MAX_TIMEOUT_S}) to redis.Redis.from_url.",
            )
        expect(
            _retries(client) == 0,
            f"the client retries {_retries(client)} times: each retry against a hung server is one more timeout.",
            "Pass retry=Retry(FullJitterBackoff(), 0), as in section 3, so a failure is reported at once.",
        )
        cache = CountingCache(client)
        db = PrimaryDatabase(users=USERS, delay_ms=1)
        reference = PrimaryDatabase(users=USERS, delay_ms=0)
        expected = {user_id: reference.get_user(user_id) for user_id in range(1, USERS + 1)}
        breaker = make_breaker()
        first = get_profile_resilient(cache, db, breaker, 1)  # in this thread, so a stub's error shows as such
        expect(
            first == expected[1], f"get_profile_resilient returned {first!r} for user 1.", "Return the row as a dict."
        )
        assert server.pid is not None
        requests, paused_at, resumed_at = _herd(
            cache, lambda user_id: get_profile_resilient(cache, db, breaker, user_id), expected, server.pid
        )
        queries = [record.start for record in db.query_log]
    finally:
        server.stop()

    errors = [request.error for request in requests if request.error]
    expect(
        not errors,
        f"{len(errors)} requests raised to the reader, e.g. {errors[0] if errors else ''}.",
        "Catch redis.exceptions.RedisError around every Redis call, and answer from the database instead.",
    )
    expect(
        all(request.correct for request in requests),
        "some requests returned something other than the user's row.",
        "Return json.loads of the cached value, or the database's row.",
    )
    during = [request for request in requests if paused_at <= request.start < resumed_at]
    slow = [request for request in during if request.latency > WAIT_BOUND_S]
    expect(
        during and len(slow) <= len(during) / 4,  # a loaded machine may stall a few requests, never most of them
        f"{len(slow)} of the {len(during)} requests made during the one-second pause waited over "
        f"{WAIT_BOUND_S * 1000:.0f} ms.",
        "Use the client from fail_open_client for every Redis call: its timeouts bound each wait.",
    )
    failed_during = [at for at in cache.failures if paused_at <= at < resumed_at + MAX_TIMEOUT_S]
    expect(
        len(failed_during) <= len(during) / 2,
        f"{len(failed_during)} Redis calls failed for {len(during)} requests during the pause: most requests "
        "still waited for a timeout.",
        "Ask breaker.allow() before calling Redis, and call breaker.record_failure() when a call fails.",
    )
    recovered = [request for request in requests if request.start >= resumed_at + RECOVERED_AFTER_S]
    from_database = sum(1 for at in queries if at >= resumed_at + RECOVERED_AFTER_S)
    expect(
        recovered and from_database <= len(recovered) / 2,
        f"after the server came back, {from_database} of {len(recovered)} requests still went to the database.",
        "Call breaker.record_success() after a Redis call works, so the half-open breaker closes again.",
    )
    expect(
        len(queries) <= len(requests) + 1,
        f"{len(queries)} database queries for {len(requests) + 1} requests: some requests read the database twice.",
        "Read the database once per request, on a miss or when Redis fails.",
    )
    return (
        f"{READERS} readers through a one-second pause of the server: no errors, every wait bounded, the breaker "
        "kept most requests away from the hung server, and reads came from Redis again after it."
    )


class RecordingCache:
    """Forwards every command to ``client`` and records which keys each user id's request touched."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.current: int | None = None
        self.touched: dict[int, set[str]] = {}

    def __getattr__(self, name: str) -> object:
        command = getattr(self._client, name)
        if not callable(command):
            return command

        def recorded(*args: object, **kwargs: object) -> object:
            if self.current is not None and args and isinstance(args[0], str):
                self.touched.setdefault(self.current, set()).add(args[0])
            return command(*args, **kwargs)

        return recorded


# -- 08.2 · negative caching -----------------------------------------------------------------------------------
@checker("08.2")
def check_negative_cache(
    get_profile_or_none: Callable[[object, PrimaryDatabase, int], object], cache: redis.Redis
) -> str:
    """Ask for existing and missing ids five times each; require one database query per id and short markers."""
    db = PrimaryDatabase(users=50, delay_ms=0)
    existing = list(range(1, 11))
    first_missing = 10_000_000 + secrets.randbelow(10_000_000)  # fresh ids on every run: no markers left over
    missing = list(range(first_missing, first_missing + 20))
    expected = {user_id: db.get_user(user_id) for user_id in existing}
    db.reset_counters()
    recorder = RecordingCache(cache)
    for _ in range(5):
        for user_id in existing + missing:
            recorder.current = user_id
            got = get_profile_or_none(recorder, db, user_id)
            want = expected.get(user_id)
            expect(
                got == want,
                f"for user {user_id} it returned {got!r} instead of {'None' if want is None else 'the row'}.",
                "Return None for the NOT_FOUND marker and for a user the database does not have; else the row.",
            )
    recorder.current = None
    missing_queries = sum(1 for record in db.query_log if record.user_id in missing)
    expect(
        missing_queries <= len(missing),
        f"{missing_queries} database queries for {len(missing)} missing ids asked 5 times each.",
        "When the database returns None, store NOT_FOUND in the cache, and return None when you read it back.",
    )
    for user_id in missing:
        lives = [cache.pttl(key) for key in recorder.touched.get(user_id, ()) if cache.exists(key)]
        expect(
            any(0 < life <= NEGATIVE_TTL_BOUND_MS for life in lives),
            f"the marker for missing user {user_id} has no short TTL (PTTL {lives or 'of no key'}).",
            f"Store it with px=NEGATIVE_TTL_MS (at most {NEGATIVE_TTL_BOUND_MS} ms), so a user created later is seen.",
        )
    for keys in recorder.touched.values():
        cache.delete(*keys)
    return (
        f"{len(missing)} missing ids asked 5 times each cost {missing_queries} database queries, and each marker "
        "expires within a minute."
    )
