"""The herd harness and the 05 exercise checker, on fakeredis and on a real redis-server."""

from __future__ import annotations

import json
import random
import secrets
import threading
import time

import numpy as np
import pytest

from helpers.checks import STUB_HINT
from helpers.errors import InvalidArgument
from helpers.keys import KeySpace
from helpers.primary_db import PrimaryDatabase
from helpers.stampede import (
    CRASHED_LOCK_TTL_MS,
    EXPIRY_GRACE_S,
    Herd,
    HerdResult,
    QuerySpan,
    ReadRecord,
    check_lock_protected_fill,
    format_table,
    steady_first_gap,
    value_time,
)

KEYS = KeySpace("05-test")
HOT = KEYS.key("hot")
LOCK = HOT + ":lock"
TTL_MS = 10_000

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@pytest.fixture
def db() -> PrimaryDatabase:
    return PrimaryDatabase(users=10, delay_ms=30)


@pytest.fixture
def cache(client):
    KEYS.cleanup(client)
    yield client
    KEYS.cleanup(client)


def herd_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("herd-client-")]


def recompute(db: PrimaryDatabase) -> dict:
    return {"user": db.get_user(3), "computed_at": time.time()}


def naive_reader(db: PrimaryDatabase):
    def read(conn):
        cached = conn.get(HOT)
        if cached is not None:
            return json.loads(cached)
        value = recompute(db)
        conn.set(HOT, json.dumps(value), px=TTL_MS)
        return value

    return read


def prime_with(cache, value: dict):
    def prime(life_ms: float) -> None:
        cache.set(HOT, json.dumps(value), px=round(life_ms))

    return prime


# -- the harness on both backends ------------------------------------------------------------------
def test_naive_herd_recomputes_about_once_per_client(cache, db):
    old = recompute(db)
    herd = Herd(cache, db, clients=30, think_ms=5, life_ms=100, window_ms=250, seed=1)
    result = herd.run(naive_reader(db), prime=prime_with(cache, old))
    assert result.hung_clients == 0 and result.errors == 0
    assert result.recomputations >= 0.8 * 30
    assert len(result.queries) == result.recomputations
    assert all(q.start_s >= result.expires_at_s for q in result.queries)  # nobody missed before the expiry
    assert 0.09 < result.expires_at_s <= 0.1
    assert result.reads_that_waited >= 0.8 * 30
    assert result.stale_reads == 0  # the naive rung never serves the old value after its expiry


def test_every_client_reads_after_the_expiry_even_when_slow(cache, db):
    old = recompute(db)
    herd = Herd(cache, db, clients=10, think_ms=200, life_ms=100, window_ms=120, seed=2)
    result = herd.run(lambda conn: json.loads(conn.get(HOT) or json.dumps(old)), prime=prime_with(cache, old))
    late = {read.client for read in result.reads if read.start_s >= result.expires_at_s}
    assert late == set(range(10))  # the window was extended until each client had read after the expiry
    assert result.stale_reads > 0  # this reader serves the old value after the expiry: counted as stale


def test_a_lock_makes_one_recomputation(cache, db):
    release = cache.register_script(RELEASE_LOCK)

    def locked(conn):
        for _ in range(400):
            cached = conn.get(HOT)
            if cached is not None:
                return json.loads(cached)
            token = secrets.token_hex(8)
            if conn.set(LOCK, token, nx=True, px=2000):
                try:
                    if conn.get(HOT) is None:
                        conn.set(HOT, json.dumps(recompute(db)), px=TTL_MS)
                finally:
                    release(keys=[LOCK], args=[token], client=conn)
            else:
                time.sleep(0.005)
        raise TimeoutError

    herd = Herd(cache, db, clients=30, think_ms=5, life_ms=100, window_ms=250, seed=3)
    result = herd.run(locked, prime=prime_with(cache, recompute(db)))
    assert (result.recomputations, result.errors, result.hung_clients) == (1, 0, 0)


def test_errors_are_counted_by_type(cache, db):
    def failing(conn):
        conn.get(HOT)
        raise ValueError("bad value")

    result = Herd(cache, db, clients=5, think_ms=20, life_ms=0, window_ms=100).run(failing)
    assert result.errors == result.read_count > 0
    assert result.errors_by_type == {"ValueError": result.read_count}
    assert all(0 < read.redis_ms <= read.latency_ms for read in result.reads)  # the GET was timed
    assert result.row()["errors"] == result.read_count


def test_a_deadlocked_rung_is_stopped_and_reported(cache, db):
    def waits_forever(conn):
        while True:  # waits for a value nobody will write, and swallows ordinary errors
            try:
                if conn.get(HOT) is not None:
                    return None
            except Exception:
                pass
            time.sleep(0.002)

    herd = Herd(cache, db, clients=6, think_ms=5, life_ms=0, window_ms=100, timeout_s=0.5)
    started = time.perf_counter()
    result = herd.run(waits_forever)
    assert time.perf_counter() - started < 3.0  # bounded by the window and the timeout, not forever
    assert result.hung_clients == 6 and result.read_count == 0
    deadline = time.monotonic() + 2
    while herd_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not herd_threads()  # HerdAborted got through `except Exception` and ended every client


def test_a_failing_prime_raises_and_leaves_no_client_behind(cache, db):
    def prime(life_ms):
        raise RuntimeError("prime broke")

    with pytest.raises(RuntimeError, match="prime broke"):
        Herd(cache, db, clients=5).run(lambda conn: conn.get(HOT), prime=prime)
    deadline = time.monotonic() + 2
    while herd_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not herd_threads()


def test_reads_per_client_keep_values_and_one_reader_per_client(cache, db):
    readers = [lambda conn, i=i: {"client": i, "pong": conn.ping()} for i in range(4)]
    result = Herd(cache, db, clients=4, think_ms=5, life_ms=0, window_ms=200).run(
        readers, reads_per_client=2, keep_values=True
    )
    assert result.read_count == 8
    assert {read.value["client"] for read in result.reads if read.client == 2} == {2}
    default = Herd(cache, db, clients=4, think_ms=5, life_ms=0, window_ms=50).run(readers, reads_per_client=1)
    assert all(read.value is None for read in default.reads)  # values are dropped unless asked for


def test_settle_waits_for_background_work_before_counting(cache, db):
    started = []

    def read(conn):
        if not started:
            started.append(threading.Thread(target=db.get_user, args=(1,)))
            started[0].start()  # a refresh in the background, still running when the window ends
        return conn.get(HOT)

    herd = Herd(cache, db, clients=1, think_ms=5, life_ms=0, window_ms=10)
    result = herd.run(read, settle=lambda: started[0].join())
    assert result.recomputations == 1


def test_the_guard_only_affects_the_herds_own_connections(cache, db):
    herd = Herd(cache, db, clients=2, think_ms=5, life_ms=0, window_ms=30, timeout_s=0.2)
    assert herd.run(lambda conn: time.sleep(0.4)).hung_clients == 2
    assert cache.ping()  # the notebook's client was never wrapped


# -- arguments ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"clients": 0},
        {"clients": True},
        {"clients": 10_000},
        {"think_ms": 0},
        {"life_ms": -1},
        {"life_ms": 500, "window_ms": 400},
        {"timeout_s": 0},
    ],
)
def test_bad_herd_arguments_are_refused(fake_client, db, kwargs):
    with pytest.raises(InvalidArgument):
        Herd(fake_client, db, **kwargs)


def test_bad_run_arguments_are_refused(fake_client, db):
    herd = Herd(fake_client, db, clients=3)
    with pytest.raises(InvalidArgument, match="one per client"):
        herd.run([lambda conn: None] * 2)
    with pytest.raises(InvalidArgument, match="one per client"):
        herd.run("not a function")
    with pytest.raises(InvalidArgument, match="reads_per_client"):
        herd.run(lambda conn: None, reads_per_client=0)
    with pytest.raises(InvalidArgument, match="life_ms"):
        herd.run(lambda conn: None, life_ms=600, window_ms=500)
    with pytest.raises(InvalidArgument, match="db must be"):
        Herd(fake_client, object())
    with pytest.raises(InvalidArgument, match="client must be"):
        Herd("redis://localhost", db)


def test_repr_states_the_load(fake_client, db):
    text = repr(Herd(fake_client, db, clients=50, think_ms=10, life_ms=250, window_ms=400))
    assert "50 clients" in text and "~5,000 reads/s" in text and "250 ms into a 400 ms window" in text


# -- results, computed from a timeline ------------------------------------------------------------------
def made_up_result() -> HerdResult:
    reads = (
        ReadRecord(0, 0.000, 1.0),  # a hit
        ReadRecord(1, 0.101, 45.0, redis_ms=0.5),  # 44.5 ms away from Redis: it waited for the query
        ReadRecord(2, 0.125, 20.0, redis_ms=15.0),  # slow, but inside Redis (a busy server): not a wait
        ReadRecord(3, 0.139, 5.0, stale=True),  # overlaps the end only
        ReadRecord(4, 0.200, 1.0, error="TimeoutError"),
        ReadRecord(5, 0.110, 40.0, redis_ms=39.9),  # spans the query, but inside Redis all along: not a wait
    )
    queries = (QuerySpan(0.101, 0.141), QuerySpan(0.300, 0.310, failed=True))
    return HerdResult(
        clients=6,
        window_s=0.4,
        expires_at_s=0.1,
        reads=reads,
        queries=queries,
        recomputations=2,
        hung_clients=0,
        errors_by_type={"TimeoutError": 1},
    )


def test_result_properties_from_a_known_timeline():
    result = made_up_result()
    assert (result.read_count, result.errors, result.stale_reads) == (6, 1, 1)
    assert result.reads_that_waited == 1
    assert result.recompute_ms == pytest.approx(40.0)  # failed queries do not count
    assert result.read_rate_per_s == pytest.approx(10.0)  # one read started before the expiry at 0.1 s
    assert result.refreshed_before_expiry is False  # the query ended after the expiry
    assert result.recomputations_after_expiry == 2
    times, counts = result.in_flight(step_ms=1.0)
    assert counts[int(times.searchsorted(120.0))] == 1 and counts[:100].max() == 0
    assert abs(counts.sum() - (40 + 10)) <= 2  # 40 ms and 10 ms in flight, sampled every millisecond
    assert result.row()["waited"] == 1 and result.row()["stuck"] == 0


def test_refreshed_before_expiry_and_no_queries():
    early = HerdResult(1, 0.4, 0.25, (ReadRecord(0, 0.0, 1.0),), (QuerySpan(0.05, 0.09),), 1, 0)
    assert early.refreshed_before_expiry and early.recomputations_after_expiry == 0
    quiet = HerdResult(1, 0.4, None, (ReadRecord(0, 0.0, 1.0),), (), 0, 0)
    assert not quiet.refreshed_before_expiry and quiet.reads_that_waited == 0
    assert np.isnan(quiet.recompute_ms)
    assert quiet.read_rate_per_s == pytest.approx(2.5)  # nothing primed: over the whole window
    with pytest.raises(InvalidArgument):
        quiet.in_flight(step_ms=0)


def test_format_table_lines_up_one_row_per_result():
    text = format_table({"1 naive": made_up_result(), "2 mutex": made_up_result()})
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("rung") and "recomputations" in lines[0]
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(InvalidArgument):
        format_table({})


def test_value_time_reads_computed_at_only_from_dicts():
    assert value_time({"computed_at": 12.5}) == 12.5
    assert value_time({"computed_at": True}) is None
    assert value_time("text") is None and value_time(None) is None


def test_steady_first_gap_is_the_renewal_equilibrium():
    rng = random.Random(4)
    gaps = np.array([steady_first_gap(rng, 1.0) for _ in range(40_000)])
    assert gaps.min() >= 0 and gaps.max() <= 1.5
    # For gaps T*U(0.5, 1.5), the mean wait seen from a random instant is E[G^2] / (2 E[G]) = 13/24 T.
    assert gaps.mean() == pytest.approx(13 / 24, rel=0.02)
    assert EXPIRY_GRACE_S < 0.01


# -- the exercise checker, against right and wrong solutions ------------------------------------------
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
