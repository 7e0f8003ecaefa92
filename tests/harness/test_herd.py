"""The herd harness and the 05 exercise checker, on fakeredis and on a real redis-server."""

from __future__ import annotations

import json
import random
import secrets
import threading
import time

import numpy as np
import pytest
from herd_fixtures import HOT, LOCK, RELEASE_LOCK, TTL_MS

from helpers.core.clock import FakeClock
from helpers.core.errors import InvalidArgument
from helpers.core.primary_db import PrimaryDatabase
from helpers.harness.herd import EXPIRY_GRACE_S, Herd, steady_first_gap

pytest_plugins = ["herd_fixtures"]  # the fixtures `db` and `cache`


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


def timed(prime):
    """``prime`` wrapped to record how long it took, in seconds (the list fills when it runs)."""
    took: list[float] = []

    def run(life_ms: float) -> None:
        start = time.perf_counter()
        prime(life_ms)
        took.append(time.perf_counter() - start)

    return run, took


# -- the harness on both backends ------------------------------------------------------------------
def test_naive_herd_recomputes_about_once_per_client(cache, db):
    old = recompute(db)
    herd = Herd(cache, db, clients=30, think_ms=5, life_ms=100, window_ms=250, seed=1)
    prime, prime_took_s = timed(prime_with(cache, old))
    result = herd.run(naive_reader(db), prime=prime)
    assert result.hung_clients == 0 and result.errors == 0
    assert result.recomputations >= 0.8 * 30
    assert len(result.queries) == result.recomputations
    assert all(q.start_s >= result.expires_at_s for q in result.queries)  # nobody missed before the expiry
    # The expiry is counted from before the SET: the life, less however long priming took (a loaded
    # machine can stretch that; 20 ms allow for a preempted thread), never more than the life.
    assert 0.1 - prime_took_s[0] - 0.02 <= result.expires_at_s <= 0.1
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


def test_steady_first_gap_is_the_renewal_equilibrium():
    rng = random.Random(4)
    gaps = np.array([steady_first_gap(rng, 1.0) for _ in range(40_000)])
    assert gaps.min() >= 0 and gaps.max() <= 1.5
    # For gaps T*U(0.5, 1.5), the mean wait seen from a random instant is E[G^2] / (2 E[G]) = 13/24 T.
    assert gaps.mean() == pytest.approx(13 / 24, rel=0.02)


@pytest.mark.parametrize(("after_expiry_s", "stale"), [(EXPIRY_GRACE_S - 1e-6, False), (EXPIRY_GRACE_S + 1e-6, True)])
def test_an_old_value_is_stale_only_once_the_expiry_grace_has_passed(fake_client, after_expiry_s, stale):
    """On a fake clock the one read starts at a known instant: put the expiry just before it, by the grace or more."""
    clock = FakeClock()
    first_read_s = steady_first_gap(random.Random(0), 0.010)  # client 0, seed 0
    life_ms = (first_read_s - after_expiry_s) * 1000.0
    herd = Herd(fake_client, PrimaryDatabase(users=5, delay_ms=0, clock=clock), clients=1, think_ms=10.0,
                life_ms=life_ms, window_ms=100.0, clock=clock)  # fmt: skip
    old = {"computed_at": clock.wall() - 60.0}
    (read,) = herd.run(lambda conn: old, prime=lambda life_ms: None, reads_per_client=1).reads
    assert read.start_s == pytest.approx(first_read_s) and read.stale is stale


# -- the exercise checker, against right and wrong solutions ------------------------------------------


# -- the herd's timing decisions, on a fake clock -------------------------------------------------------
def expected_read_starts(seed: int, think_s: float, life_s: float, window_s: float) -> list[float]:
    """When one client of a herd reads, worked out independently from the herd's rules and its seeded pauses."""
    rng = random.Random(seed * 100_003)
    now = steady_first_gap(rng, think_s)
    starts = []
    while True:
        starts.append(now)
        pause = think_s * rng.uniform(0.5, 1.5)
        if now >= life_s + EXPIRY_GRACE_S and now + pause >= window_s:
            return starts
        now += pause
        if now >= window_s and any(s >= life_s + EXPIRY_GRACE_S for s in starts):
            return starts


def test_on_a_fake_clock_a_client_reads_exactly_on_its_seeded_schedule(fake_client):
    clock = FakeClock()
    db = PrimaryDatabase(users=5, delay_ms=0, clock=clock)
    herd = Herd(fake_client, db, clients=1, think_ms=10.0, life_ms=50.0, window_ms=100.0, seed=3, clock=clock)
    result = herd.run(lambda conn: {"computed_at": clock.wall()}, prime=lambda life_ms: None)
    starts = [read.start_s for read in result.reads]
    assert starts == pytest.approx(expected_read_starts(3, 0.010, 0.050, 0.100))
    assert result.expires_at_s == pytest.approx(0.050) and result.hung_clients == 0
    assert all(read.latency_ms == 0.0 and not read.stale for read in result.reads)


def test_on_a_fake_clock_a_starved_client_still_reads_after_the_expiry(fake_client):
    """The first read stalls past the whole window: the client reads once more, after the expiry, then stops."""
    clock = FakeClock()
    db = PrimaryDatabase(users=5, delay_ms=0, clock=clock)
    herd = Herd(fake_client, db, clients=1, think_ms=10.0, life_ms=50.0, window_ms=100.0, seed=1, clock=clock)
    old = {"computed_at": clock.wall() - 60.0}  # computed a minute before the herd

    def stalls_once(conn):
        if not stalls_once.done:
            stalls_once.done = True
            clock.advance(0.200)
        return old

    stalls_once.done = False
    result = herd.run(stalls_once, prime=lambda life_ms: None)
    first, second = result.reads
    assert first.start_s < 0.050 and first.latency_ms == pytest.approx(200.0) and not first.stale
    assert second.start_s > 0.200 and second.stale  # the old value, read after its planned expiry


def test_on_a_fake_clock_a_stuck_client_is_stopped_at_the_hard_deadline(fake_client):
    clock = FakeClock()
    db = PrimaryDatabase(users=5, delay_ms=0, clock=clock)
    herd = Herd(fake_client, db, clients=1, think_ms=10.0, life_ms=0.0, window_ms=50.0, timeout_s=1.0, clock=clock)

    def spins(conn):
        while conn.get(HOT) is None:  # a value that never comes: only the herd's guard can stop this
            clock.sleep(0.001)

    result = herd.run(spins)
    assert result.hung_clients == 1 and result.read_count == 0
    assert clock.now() - 1000.0 >= 0.050 + 1.0  # it was given the window and the timeout, on the herd's clock
