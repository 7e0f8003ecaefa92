"""The race harness runs the same interleaving every time, on both backends, and each fix holds.

The strategies are notebook 03's own functions (loaded from its source), interleaved many times each.
"""

from __future__ import annotations

import threading

import pytest

from helpers.core.clock import FakeClock
from helpers.core.errors import InvalidArgument
from helpers.core.primary_db import PrimaryDatabase
from helpers.harness.interleaving import ScheduleError, every_order, interleave

REPEATS = 15  # each interleaving, on each backend

pytest_plugins = ["notebook_code"]  # the fixtures `keys` and `nb`


@pytest.fixture
def db():
    return PrimaryDatabase(users=300, delay_ms=1)


def fresh_users(start: int):
    """A different user for every repeat, so each interleaving starts from an empty cache and version 1."""
    return range(start, start + REPEATS)


# -- the three races, reproduced every time -----------------------------------------------------------
def test_race_1_stale_set_every_time(nb):
    for user_id in fresh_users(1):
        result = nb["race_1"](nb["read_user"], nb["update_user_invalidating"], user_id)
        assert [(s.actor, s.target) for s in result.steps] == [
            ("reader", "cache"),
            ("reader", "database"),
            ("writer", "database"),
            ("writer", "cache"),
            ("reader", "cache"),
        ]
        assert not result.consistent
        assert result.cache_row["version"] == 1 and result.database_row["version"] == 2


def test_race_2_delete_first_is_stale_and_database_first_is_not(nb):
    for user_id in fresh_users(20):
        assert not nb["race_2"](nb["update_user_delete_first"], user_id).consistent
    for user_id in fresh_users(40):
        fixed = nb["race_2"](nb["update_user_invalidating"], user_id)
        assert fixed.consistent and fixed.cache_row is None
        assert [s.result for s in fixed.steps][2] == "Nairobi v2"  # the reader refilled the new row


def test_race_3_crossed_write_throughs_every_time(nb):
    for user_id in fresh_users(60):
        crossed = nb["race_3"](nb["update_user_write_through"], user_id)
        assert not crossed.consistent
        assert (crossed.cache_row["city"], crossed.database_row["city"]) == ("Tallinn", "Zurich")


def test_race_3_with_deletes_is_consistent(nb):
    for user_id in fresh_users(80):
        assert nb["race_3"](nb["update_user_invalidating"], user_id).consistent


# -- the fixes ---------------------------------------------------------------------------------------
def test_versioned_lua_refuses_the_late_fill_and_the_older_write(nb):
    for user_id in fresh_users(100):
        fill = nb["race_1"](nb["read_user_versioned"], nb["update_user_versioned"], user_id)
        assert fill.consistent and fill.steps[-1].result == "0"
    for user_id in fresh_users(120):
        crossed = nb["race_3"](nb["update_user_versioned"], user_id)
        assert crossed.consistent and crossed.cache_row["city"] == "Zurich"


def test_watch_exec_fails_once_then_the_retry_refuses(nb, keys, client, db):
    for user_id in fresh_users(140):
        result = interleave(
            client,
            db,
            actors={
                "reader": lambda c, d, u=user_id: nb["read_user_watched"](c, d, u),
                "writer": lambda c, d, u=user_id: nb["update_user_watched"](c, d, u, city="Osaka"),
            },
            schedule=["reader"] * 4 + ["writer*", "reader*"],
            watch=keys.key("user", user_id),
        )
        assert [s.result for s in result.steps].count("null reply (WatchError)") == 1
        assert result.consistent and result.cache_row["version"] == 2
    for user_id in fresh_users(160):
        assert nb["race_3"](nb["update_user_watched"], user_id).consistent


def test_lease_voided_by_the_delete_refuses_the_late_fill(nb, keys, client):
    for user_id in fresh_users(180):
        result = nb["race_1"](nb["read_user_leased"], nb["update_user_leased"], user_id)
        assert result.consistent and result.steps[-1].result == "0"
        assert client.exists(keys.key("user", user_id, "lease")) == 0  # no lease left behind


def test_double_delete_catches_a_fast_fill_but_not_a_slow_one(nb, keys, client):
    ttl_ms = nb["TTL_MS"]
    for user_id in fresh_users(200):
        caught = nb["race_1"](nb["read_user"], nb["update_user_double_delete"], user_id, ending=["reader", "writer*"])
        assert caught.consistent
    for user_id in fresh_users(220):
        missed = nb["race_1"](nb["read_user"], nb["update_user_double_delete"], user_id, ending=["writer*", "reader*"])
        assert not missed.consistent
        assert 0 < client.pttl(keys.key("user", user_id)) <= ttl_ms  # bounded by the TTL


def test_the_lease_reader_without_the_lease_does_not_fill(nb, keys, client, db):
    holder = nb["GET_OR_LEASE"](keys=[keys.key("user", 250), keys.key("user", 250, "lease")], args=["t1", 5000])
    assert holder == ["lease", "t1"]
    row = nb["read_user_leased"](client, db, 250)
    assert row["id"] == 250 and client.exists(keys.key("user", 250)) == 0  # "wait": read the database only


# -- the harness itself ---------------------------------------------------------------------------------
def test_interleave_leaves_no_thread_behind(client, keys, db):
    before = threading.active_count()
    for _ in range(5):
        interleave(
            client,
            db,
            actors={"a": lambda c, d: c.get(keys.key("user", 1))},
            schedule=["a"],
            watch=keys.key("user", 1),
        )
    assert threading.active_count() == before


def test_a_turn_for_a_finished_actor_is_an_error(client, keys, db):
    with pytest.raises(ScheduleError, match="finished"):
        interleave(client, db, actors={"a": lambda c, d: c.get("x")}, schedule=["a", "a"], watch=keys.key("user", 1))


def test_a_schedule_that_ends_early_is_an_error(client, keys, db):
    def two_steps(cache, db):
        cache.get(keys.key("user", 1))
        cache.get(keys.key("user", 2))

    with pytest.raises(ScheduleError, match="ended too early"):
        interleave(client, db, actors={"a": two_steps}, schedule=["a"], watch=keys.key("user", 1))


def test_an_actor_error_reaches_the_caller_with_its_own_type(client, keys, db):
    def broken(cache, db):
        raise NotImplementedError("your turn")

    with pytest.raises(NotImplementedError):
        interleave(client, db, actors={"a": broken}, schedule=["a*"], watch=keys.key("user", 1))


def test_star_runs_an_actor_to_its_end_and_returns_its_value(client, keys, db):
    def three_steps(cache, db):
        cache.set(keys.key("user", 5), "x")
        cache.get(keys.key("user", 5))
        return db.get_user(5)["id"]

    result = interleave(client, db, actors={"a": three_steps}, schedule=["a*"], watch=keys.key("user", 5))
    assert len(result.steps) == 3 and result.returned == {"a": 5}


@pytest.mark.parametrize(
    ("actors", "schedule", "watch", "message"),
    [
        ({}, ["a"], "k", "at least one actor"),
        ({"a*": lambda c, d: None}, ["a"], "k", "actor names"),
        ({"a": "not a function"}, ["a"], "k", "must be a function"),
        ({"a": lambda c, d: None}, [], "k", "non-empty list"),
        ({"a": lambda c, d: None}, "a", "k", "non-empty list"),
        ({"a": lambda c, d: None}, ["b"], "k", "names no actor"),
        ({"a": lambda c, d: None}, ["a"], "", "watch must be"),
    ],
)
def test_bad_arguments_say_what_to_fix(fake_client, actors, schedule, watch, message):
    with pytest.raises(InvalidArgument, match=message):
        interleave(fake_client, PrimaryDatabase(users=5, delay_ms=0), actors=actors, schedule=schedule, watch=watch)


# -- the exercise checker -------------------------------------------------------------------------------


# -- turn timeouts, decided on the clock --------------------------------------------------------------
class ClockThatTellsTimeouts(FakeClock):
    """A fake clock that sets ``gave_up`` when a wait it bounds runs out (so a stalled test actor can end)."""

    def __init__(self) -> None:
        super().__init__()
        self.gave_up = threading.Event()

    def wait_for(self, ready, timeout_s, block):
        ready_in_time = super().wait_for(ready, timeout_s, block)
        if not ready_in_time:
            self.gave_up.set()
        return ready_in_time


def test_an_operation_longer_than_the_turn_timeout_on_the_clock_is_an_error(fake_client, keys):
    clock = ClockThatTellsTimeouts()

    class StallingDatabase(PrimaryDatabase):
        def get_user(self, user_id):
            clock.advance(25.0)  # the operation takes 25 s on the harness's clock ...
            clock.gave_up.wait(30.0)  # ... and really lasts until the coordinator has given up on it
            return super().get_user(user_id)

    db = StallingDatabase(users=5, delay_ms=0)
    with pytest.raises(ScheduleError, match="did not finish operation 1 in time"):
        interleave(
            fake_client, db, actors={"a": lambda c, d: d.get_user(1)}, schedule=["a"], watch=keys.key("user", 1),
            clock=clock, turn_timeout_s=20.0,
        )  # fmt: skip


def test_real_slowness_is_no_timeout_when_the_clock_does_not_move(fake_client, keys):
    """A loaded machine makes an operation slow in real time; on a fake clock that is not a timeout."""
    release = threading.Event()

    class SlowDatabase(PrimaryDatabase):
        def get_user(self, user_id):
            release.wait(0.3)  # 0.3 s of real time, six times the turn timeout, and no fake time at all
            return super().get_user(user_id)

    result = interleave(
        fake_client, SlowDatabase(users=5, delay_ms=0), actors={"a": lambda c, d: d.get_user(1)}, schedule=["a"],
        watch=keys.key("user", 1), clock=FakeClock(), turn_timeout_s=0.05,
    )  # fmt: skip
    assert [step.command for step in result.steps] == ["SELECT user 1"]


def test_the_turn_timeout_must_be_positive(fake_client, keys, db):
    with pytest.raises(InvalidArgument, match="turn_timeout_s"):
        interleave(fake_client, db, actors={"a": lambda c, d: None}, schedule=["a*"], watch="k", turn_timeout_s=0)


# -- every order -------------------------------------------------------------------------------------
def test_every_order_finds_the_one_stale_order_of_a_read_and_an_invalidation(nb, keys, client, db):
    key = keys.key("user", 260)
    orders = every_order(
        client,
        db,
        actors={
            "reader": lambda c, d: nb["read_user"](c, d, 260),
            "writer": lambda c, d: nb["update_user_invalidating"](c, d, 260, city="Osaka"),
        },
        operations={"reader": 3, "writer": 2},
        watch=key,
        reset=lambda: client.delete(key),
    )
    assert len(orders) == 10  # 5 operations, 2 of them the writer's: C(5, 2) orders
    stale = [o for o in orders if not o.consistent]
    assert [[s.actor for s in o.steps] for o in stale] == [["reader", "reader", "writer", "writer", "reader"]]


def test_every_order_skips_orders_that_do_not_fit(nb, keys, client, db):
    key = keys.key("user", 261)
    orders = every_order(
        client,
        db,
        actors={
            "reader": lambda c, d: nb["read_user_versioned"](c, d, 261),
            "writer": lambda c, d: nb["update_user_versioned"](c, d, 261, city="Osaka"),
        },
        operations={"reader": 3, "writer": 2},
        watch=key,
        reset=lambda: client.delete(key),
    )
    signatures = [tuple(s.actor for s in o.steps) for o in orders]
    assert len(signatures) == len(set(signatures)) and all(o.consistent for o in orders)
    assert ("writer", "writer", "reader") in signatures  # the reader hit the new row at once: one operation
    with pytest.raises(InvalidArgument, match="operations"):
        every_order(client, db, {"reader": lambda c, d: None}, {}, watch=key, reset=lambda: None)
