"""Workload measurement counts exactly and the same on both backends; the stress runner is bounded and fair."""

from __future__ import annotations

import json

import pytest

from helpers.core.capabilities import capabilities
from helpers.core.clock import FakeClock
from helpers.core.errors import InvalidArgument
from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.harness.consistency import (
    Measurement,
    Operation,
    _CommandCounter,
    measure,
    measurement_table,
    read_write_workload,
    stress,
    stress_table,
)

pytest_plugins = ["notebook_code"]  # the fixtures `keys` and `nb`


@pytest.fixture
def db():
    return PrimaryDatabase(users=100, delay_ms=0)


# -- the workload ---------------------------------------------------------------------------------------
def test_workload_is_seeded_and_mixes_reads_and_writes():
    first = read_write_workload(500, users=40, write_share=0.2, seed=5)
    assert first == read_write_workload(500, users=40, write_share=0.2, seed=5)
    assert first != read_write_workload(500, users=40, write_share=0.2, seed=6)
    writes = [op for op in first if op.kind == "write"]
    assert 60 < len(writes) < 140  # about 20 %
    assert all(1 <= op.user_id <= 40 for op in first) and all(op.city for op in writes)
    assert repr(Operation("read", 3)) == "read 3" and repr(Operation("write", 4, "Quito")) == "write 4 city=Quito"


@pytest.mark.parametrize(
    ("args", "message"),
    [((0, 10, 0.1), "n_ops"), ((10, 0, 0.1), "users"), ((10, 10, 1.5), "write_share"), ((10, 10, True), "write_share")],
)
def test_workload_rejects_bad_arguments(args, message):
    with pytest.raises(InvalidArgument, match=message):
        read_write_workload(*args)


# -- measure --------------------------------------------------------------------------------------------
def test_measure_counts_exactly_and_the_same_on_both_backends(nb, client, db, keys):
    workload = read_write_workload(300, users=30, write_share=0.15, seed=1)
    results = {
        name: measure(name, nb["read_user"], nb[update], client, db, keys, workload)
        for name, update in (
            ("ttl", "update_user_ttl_only"),
            ("invalidate", "update_user_invalidating"),
            ("write-through", "update_user_write_through"),
        )
    }
    ttl, invalidate, write_through = results.values()
    assert ttl.stale_reads > 0 and invalidate.stale_reads == write_through.stale_reads == 0
    assert ttl.database_reads < invalidate.database_reads  # invalidation refills after every write
    assert write_through.database_reads < invalidate.database_reads
    assert write_through.cache_writes == write_through.database_reads + write_through.writes
    assert invalidate.cache_writes == invalidate.database_reads  # one fill per miss, nothing else
    assert write_through.never_read > invalidate.never_read
    # the exact figures from a run on fakeredis: a real server must give the same counts
    assert (invalidate.database_reads, write_through.cache_writes, write_through.never_read) == (51, 73, 25)
    if capabilities(client).memory_usage:
        assert write_through.never_read_memory_bytes > write_through.never_read_value_bytes > 0
    else:
        assert write_through.never_read_memory_bytes is None


def test_measure_rejects_an_empty_workload(nb, client, db, keys):
    with pytest.raises(InvalidArgument, match="non-empty workload"):
        measure("x", nb["read_user"], nb["update_user_invalidating"], client, db, keys, [])


def test_command_counter_counts_sets_and_entries_never_read(fake_client):
    counter = _CommandCounter()
    counted = counter.attach(fake_client)
    counted.set("a", "1")
    counted.set("a", "2")  # the first value was never read
    counted.get("a")  # now it has been read
    counted.set("b", "1")
    counted.delete("b")  # deleted unread
    counted.set("c", "1")  # still unread at the end
    counted.get("missing")
    assert (counter.sets, counter.wasted, counter.unread_keys()) == (4, 2, ["c"])


def test_measurement_table_lines_up():
    m = Measurement("invalidate", 90, 10, 0, 30, 30, 5, 400, None)
    lines = measurement_table([m]).splitlines()
    assert lines[0].startswith("strategy") and lines[1].split() == ["invalidate", "0", "30", "30", "5", "400"]
    assert lines[-1] == "(90 reads and 10 writes each)"


# -- stress ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("read", "update"),
    [
        ("read_user_versioned", "update_user_versioned"),
        ("read_user_watched", "update_user_watched"),
        ("read_user_leased", "update_user_leased"),
    ],
)
def test_the_fixes_never_serve_stale_data_under_stress(nb, client, keys, read, update):
    db = PrimaryDatabase(users=20, delay_ms=2)
    for seed in range(3):
        result = stress("fix", nb[read], nb[update], client, db, keys, seed=seed, ops_per_thread=30)
        assert result.finished and result.reads + result.writes == 8 * 30
        assert result.stale_reads == 0 and result.inconsistent_entries == 0


def test_plain_strategies_lose_races_under_the_notebooks_stress(nb, client, keys):
    """The notebook asserts the plain strategies make mistakes in one run; check that with its settings."""
    db = PrimaryDatabase(users=20, delay_ms=2)
    for seed in range(3):
        mistakes = 0
        for update in ("update_user_invalidating", "update_user_write_through"):
            result = stress("plain", nb["read_user"], nb[update], client, db, keys, seed=seed)
            mistakes += result.stale_reads + result.inconsistent_entries
        assert mistakes > 0


def test_stress_stops_at_its_time_limit(nb, client, keys):
    db = PrimaryDatabase(users=20, delay_ms=20)
    result = stress(
        "slow", nb["read_user"], nb["update_user_invalidating"], client, db, keys, ops_per_thread=500, time_limit_s=0.2
    )
    assert not result.finished and result.reads + result.writes < 8 * 500


def test_stress_reports_a_failing_strategy(client, keys, db):
    def broken_read(cache, db, user_id):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        stress("broken", broken_read, lambda c, d, u, **ch: d.update_user(u, **ch), client, db, keys, write_share=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "users"),
        ({"threads": 0}, "threads"),
        ({"jitter_ms": -1}, "jitter_ms"),
        ({"write_share": 2}, "write_share"),
    ],
)
def test_stress_rejects_bad_arguments(fake_client, kwargs, message):
    keys = KeySpace("03-test")
    with pytest.raises(InvalidArgument, match=message):
        stress("x", None, None, fake_client, PrimaryDatabase(users=5, delay_ms=0), keys, **kwargs)


def test_stress_table_shows_each_strategy(nb, fake_client):
    keys = KeySpace("03-test")
    db = PrimaryDatabase(users=20, delay_ms=0)
    result = stress("leases", nb["read_user_leased"], nb["update_user_leased"], fake_client, db, keys, threads=2)
    keys.cleanup(fake_client)
    assert stress_table([result]).splitlines()[1].split()[0] == "leases"


def test_cached_rows_are_json_after_measure(nb, client, db, keys):
    measure("x", nb["read_user"], nb["update_user_invalidating"], client, db, keys, [Operation("read", 3)])
    assert json.loads(client.get(keys.key("user", 3)))["id"] == 3


# -- the stress runner's deadline, on a fake clock ----------------------------------------------------
def _stress_on(clock: FakeClock, client, keys, *, time_limit_s: float):
    db = PrimaryDatabase(users=5, delay_ms=0, clock=clock)

    def read(cache, db, user_id):
        return db.get_user(user_id)

    def write(cache, db, user_id, **changes):
        return db.update_user(user_id, **changes)

    return stress(
        "on a fake clock", read, write, client, db, keys, threads=1, ops_per_thread=40, jitter_ms=10.0,
        time_limit_s=time_limit_s, clock=clock,
    )  # fmt: skip


def test_the_stress_deadline_is_decided_on_the_clock_it_is_given(fake_client, keys):
    """One thread, each database reply 0-10 ms late on a fake clock: where the limit falls is the same every run."""
    clock = FakeClock()
    cut = _stress_on(clock, fake_client, keys, time_limit_s=0.05)
    jitter = clock.sleeps  # every database reply's delay, in order
    assert not cut.finished and 0 < cut.reads + cut.writes < 40
    assert sum(jitter[:-1]) <= 0.05 < sum(jitter)  # it stopped at the first operation that began past the limit
    again = _stress_on(FakeClock(), fake_client, keys, time_limit_s=0.05)
    assert (again.reads, again.writes) == (cut.reads, cut.writes)
    whole = _stress_on(FakeClock(), fake_client, keys, time_limit_s=60.0)
    assert whole.finished and whole.reads + whole.writes == 40
