"""Notebook 05's checker: the solution passes, known-wrong solutions fail with a hint."""

from __future__ import annotations

import json
import math
import secrets
import time

import pytest
from herd_fixtures import KEYS, LOCK, RELEASE_LOCK

from helpers.exercises import nb05_stampedes as nb05
from helpers.exercises.framework import STUB_HINT
from helpers.exercises.nb05_stampedes import CRASHED_LOCK_TTL_MS, check_lock_protected_fill

pytest_plugins = ["herd_fixtures"]  # the fixtures `db` and `cache`


def make_solution(*, lock=True, double_check=True, compare_and_delete=True, retry_lock=True, release=True):
    """A get_or_compute with some parts switched off, like a learner's attempt."""
    lock_ttl_ms, wait_s, poll_s = 300, 2.0, 0.005

    def get_or_compute(conn, key, compute, ttl_ms):
        lock_key = key + ":lock"
        script = conn.register_script(RELEASE_LOCK)
        deadline = time.monotonic() + wait_s
        tried = False
        while time.monotonic() < deadline:
            cached = conn.get(key)
            if cached is not None:
                return json.loads(cached)
            if not lock:
                value = compute()
                conn.set(key, json.dumps(value), px=ttl_ms)
                return value
            token = secrets.token_hex(8)
            if (retry_lock or not tried) and conn.set(lock_key, token, nx=True, px=lock_ttl_ms):
                try:
                    if double_check and (cached := conn.get(key)) is not None:
                        return json.loads(cached)
                    value = compute()
                    conn.set(key, json.dumps(value), px=ttl_ms)
                    return value
                finally:
                    if release and compare_and_delete:
                        script(keys=[lock_key], args=[token], client=conn)
                    elif release:
                        conn.delete(lock_key)
            tried = True
            time.sleep(poll_s)
        raise TimeoutError(f"no value for {key}")

    return get_or_compute


def test_the_solution_passes(cache, db):
    result = check_lock_protected_fill(make_solution(), cache=cache, db=db, keys=KEYS)
    assert result.passed, repr(result)
    assert KEYS.count(cache) == 0  # the checker cleans up after itself
    assert "execute_command" not in vars(cache)  # and never wraps the notebook's own client


@pytest.mark.parametrize(
    ("attempt", "problem", "hint"),
    [
        (dict(lock=False), "times; expected exactly once", "SET lock_key token NX PX"),
        (dict(compare_and_delete=False), "deleted the lock another client", "compare-and-delete"),
        (dict(release=False), "is still there", "finally"),
        (dict(retry_lock=False), "raised", "retry"),
    ],
)
def test_wrong_solutions_fail_with_a_hint(cache, db, attempt, problem, hint):
    result = check_lock_protected_fill(make_solution(**attempt), cache=cache, db=db, keys=KEYS, clients=30)
    assert not result.passed
    assert problem in result.message and hint in result.hint, repr(result)


def test_a_deadlocking_solution_fails_fast_with_a_hint(fake_client, db):
    def never_takes_over(conn, key, compute, ttl_ms):
        if (cached := conn.get(key)) is not None:
            return json.loads(cached)
        if conn.set(key + ":lock", "me", nx=True, px=CRASHED_LOCK_TTL_MS):
            value = compute()
            conn.set(key, json.dumps(value), px=ttl_ms)
            conn.delete(key + ":lock")
            return value
        while conn.get(key) is None:  # waits for a value a crashed holder will never write
            time.sleep(0.005)
        return json.loads(conn.get(key))

    started = time.perf_counter()
    result = check_lock_protected_fill(never_takes_over, cache=fake_client, db=db, keys=KEYS, clients=10)
    assert time.perf_counter() - started < 10
    assert not result.passed and "deadlock" in result.message and "TTL" in result.hint


def test_the_stub_fails_with_the_stub_hint(fake_client, db):
    def stub(conn, key, compute, ttl_ms):
        raise NotImplementedError("Exercise 05.1: your turn")

    result = check_lock_protected_fill(stub, cache=fake_client, db=db, keys=KEYS)
    assert not result.passed and result.hint == STUB_HINT


def test_a_herd_that_starts_too_late_for_the_crashed_lock_is_reported_never_passed(fake_client, db, monkeypatch):
    """A crashed lock that expires before the clients start would let a solution that never retries pass.

    With a 1 ms crashed lock every herd starts too late for it: the checker retries, then says so.
    """
    monkeypatch.setattr(nb05, "CRASHED_LOCK_TTL_MS", 1)
    result = check_lock_protected_fill(make_solution(retry_lock=False), cache=fake_client, db=db, keys=KEYS, clients=5)
    assert not result.passed
    assert "too busy to test a lock left by a crashed holder" in result.message and "run the check again" in result.hint


def test_a_lock_taken_again_after_its_ttl_is_a_stalled_machine_not_a_wrong_lock():
    locks = nb05._LockWatch(LOCK, fair_ttl_s=0.1)
    locks.taken[:] = [(0.0, 0.001, 0.3), (0.35, 0.351, 0.3)]  # the second lock came after the first one's TTL
    assert "stalled past its lock's TTL" in locks.stalled_holder(2)
    assert locks.stalled_holder(1) is None  # one computation: the lock worked
    locks.taken[:] = [(0.0, 0.001, 0.3), (0.05, 0.051, 0.3)]  # taken again within the TTL: the learner's lock
    assert locks.stalled_holder(2) is None
    locks.taken[:] = [(0.0, 0.001, 0.01), (0.05, 0.051, 0.01)]  # a 10 ms lock is too short for a computation
    assert locks.stalled_holder(2) is None


@pytest.mark.parametrize(
    ("words", "seconds"),
    [(["K", "T", "NX", "PX", "300"], 0.3), (["K", "T", "EX", "2", "NX"], 2.0), (["K", "T", "NX"], float("inf"))],
)
def test_the_ttl_of_a_set_is_read_from_its_arguments(words, seconds):
    assert nb05._expiry_s(words) == seconds


def test_a_lock_too_short_for_the_computation_fails_with_a_hint(cache, db):
    """Locks that expire before compute() ends let a second client compute: the learner's fault, never excused."""
    short = make_solution()

    def with_a_5_ms_lock(conn, key, compute, ttl_ms):
        def slow_compute():
            time.sleep(0.05)  # longer than the lock's TTL below
            return compute()

        original_set = conn.set

        def set_with_short_lock(name, value, **options):
            if name.endswith(":lock"):
                options["px"] = 5
            return original_set(name, value, **options)

        conn.set = set_with_short_lock
        try:
            return short(conn, key, slow_compute, ttl_ms)
        finally:
            del conn.set

    result = check_lock_protected_fill(with_a_5_ms_lock, cache=cache, db=db, keys=KEYS, clients=20)
    assert not result.passed and "times; expected exactly once" in result.message, repr(result)
    assert "SET lock_key token NX PX" in result.hint


# -- 05.2: XFetch with a refresh lock -----------------------------------------------------------------
def make_xfetch(*, lock=True, serve_when_locked=True, release=True, store=True, condition=">="):
    """An xfetch_get_locked with some parts switched off or wrong, like a learner's attempt."""

    def xfetch_get_locked(conn, key, compute, now_s, u, beta=1.0):
        cached = conn.get(key)
        if cached is not None:
            entry = json.loads(cached)
            time_left = entry["expires_at"] - now_s
            early = -entry["delta"] * beta * math.log(u)
            picked = early >= time_left if condition == ">=" else early <= time_left
            if not picked:
                return entry["value"]
            if lock and not conn.set(key + ":refresh", 1, nx=True, px=None if not release else 5_000):
                if serve_when_locked:
                    return entry["value"]
                deadline = time.monotonic() + 3.0
                while conn.exists(key + ":refresh") and time.monotonic() < deadline:
                    time.sleep(0.01)
                return json.loads(conn.get(key))["value"]
        value, delta_s = compute()
        if store:
            entry = {"value": value, "delta": delta_s, "expires_at": now_s + nb05.XFETCH_TTL_S}
            conn.set(key, json.dumps(entry), px=60_000)
        if lock and release:
            conn.delete(key + ":refresh")
        return value

    return xfetch_get_locked


def test_xfetch_with_lock_passes_the_solution(cache):
    assert nb05.check_xfetch_with_lock(make_xfetch(), cache=cache, keys=KEYS).passed


@pytest.mark.parametrize(
    ("attempt", "hint"),
    [
        (make_xfetch(lock=False), "take a lock"),
        (make_xfetch(serve_when_locked=False), "instead of waiting"),
        (make_xfetch(release=False), "Release the refresh lock"),
        (make_xfetch(store=False), "Store the new entry"),
        (make_xfetch(condition="<="), "return the cached value"),
    ],
)
def test_xfetch_with_lock_explains_wrong_attempts(cache, attempt, hint):
    result = nb05.check_xfetch_with_lock(attempt, cache=cache, keys=KEYS)
    assert not result.passed and hint in result.hint, result


def test_xfetch_with_lock_stub_fails_with_the_stub_hint(cache):
    def stub(conn, key, compute, now_s, u, beta=1.0):
        raise NotImplementedError

    assert nb05.check_xfetch_with_lock(stub, cache=cache, keys=KEYS).hint == STUB_HINT
