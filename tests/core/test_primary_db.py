"""PrimaryDatabase: deterministic rows, counted queries, a labelled delay, thread safety, outages."""

from __future__ import annotations

import threading
import time

import pytest

from helpers.core.clock import FakeClock
from helpers.core.errors import InvalidArgument
from helpers.core.primary_db import DatabaseUnavailable, PrimaryDatabase


def test_seeded_rows_are_deterministic():
    first, second = PrimaryDatabase(users=50, delay_ms=0), PrimaryDatabase(users=50, delay_ms=0)
    assert first.get_user(42) == second.get_user(42)
    assert first.get_user(42) != PrimaryDatabase(users=50, delay_ms=0, seed=8).get_user(42)
    assert set(first.get_user(1)) == {"id", "name", "email", "city", "plan", "version"}
    assert first.get_user(51) is None


def test_queries_are_counted_and_logged():
    db = PrimaryDatabase(users=10, delay_ms=0)
    db.get_user(1)
    db.get_user(2)
    db.update_user(1, city="Osaka")
    assert (db.reads, db.writes, db.query_count) == (2, 1, 3)
    assert [(q.kind, q.user_id) for q in db.query_log] == [("read", 1), ("read", 2), ("write", 1)]
    db.reset_counters()
    assert db.query_count == 0 and db.query_log == []


def test_update_bumps_the_version_and_persists():
    db = PrimaryDatabase(users=10, delay_ms=0)
    updated = db.update_user(3, name="Grace Hopper", plan="pro")
    assert updated["version"] == 2 and updated["name"] == "Grace Hopper"
    assert db.get_user(3) == updated
    assert db.update_user(3, city="Quito")["version"] == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [({}, "update_user takes some of"), ({"version": 9}, "update_user takes some of"), ({"id": 2}, "takes some of")],
)
def test_bad_updates_are_refused(changes, message):
    with pytest.raises(InvalidArgument, match=message):
        PrimaryDatabase(users=5, delay_ms=0).update_user(1, **changes)


def test_update_of_a_missing_user():
    with pytest.raises(InvalidArgument, match="There is no user 99"):
        PrimaryDatabase(users=5, delay_ms=0).update_user(99, city="Osaka")


@pytest.mark.parametrize(("kwargs", "message"), [({"delay_ms": -1}, "delay_ms must be"), ({"users": 0}, "users must")])
def test_bad_construction(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        PrimaryDatabase(**kwargs)


def test_delay_is_applied_and_labelled():
    db = PrimaryDatabase(users=5, delay_ms=40)
    start = time.perf_counter()
    db.get_user(1)
    assert time.perf_counter() - start >= 0.039
    assert "simulated network latency: 40 ms per query" in repr(db)


def test_concurrent_queries_overlap_their_delay():
    """Waiting happens outside the lock, as with a remote database: 20 parallel reads take ~1 delay, not 20."""
    db = PrimaryDatabase(users=5, delay_ms=200)
    threads = [threading.Thread(target=db.get_user, args=(1,)) for _ in range(20)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - start < 2.0  # serialised would be 4 s
    assert db.reads == 20


def test_a_read_sees_what_was_committed_at_its_midpoint():
    db = PrimaryDatabase(users=5, delay_ms=1000)  # the read reaches the database after 0.5 s
    result = {}
    reader = threading.Thread(target=lambda: result.update(row=db.get_user(1)))
    reader.start()
    time.sleep(0.05)  # the read is in its first half (on its way to the database)
    db.delay_ms = 0
    db.update_user(1, city="Zurich")  # committed before the read reaches the database
    reader.join()
    assert result["row"]["city"] == "Zurich"


def test_outage_fails_queries_and_counts_them():
    db = PrimaryDatabase(users=5, delay_ms=0)
    with db.outage(), pytest.raises(DatabaseUnavailable, match="simulated outage"):
        db.get_user(1)
    assert db.get_user(1)["id"] == 1
    assert [q.failed for q in db.query_log] == [True, False]
    assert db.reads == 2


def test_no_delay_means_no_sleep():
    """delay_ms=0 must not yield the CPU (time.sleep(0) does, which skews timing under load)."""
    clock = FakeClock()
    db = PrimaryDatabase(users=5, delay_ms=0, clock=clock)
    db.get_user(1)
    db.update_user(1, city="Osaka")
    assert clock.sleeps == []
    db.delay_ms = 10
    db.get_user(1)
    assert clock.sleeps == [0.005, 0.005]


def test_the_query_log_is_on_the_databases_clock():
    clock = FakeClock(start=50.0)
    db = PrimaryDatabase(users=5, delay_ms=20, clock=clock)
    db.get_user(1)
    (query,) = db.query_log
    assert query.start == 50.0 and query.end == pytest.approx(50.02)
