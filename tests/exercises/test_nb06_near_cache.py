"""Notebook 06's checkers: the solutions pass, and known-wrong answers fail with a hint that names the mistake."""

from __future__ import annotations

import pytest

from helpers.exercises import nb06_near_cache as nb06
from helpers.exercises.nb06_near_cache import check_crossing_schedule, check_get_many
from helpers.harness.near_cache_race import DELIVER, RECEIVE, SEND, WRITE


@pytest.fixture(params=["redis-server", "simulated"])
def where(request, monkeypatch):
    """Run each check on its own private server, and again without one (the simulated wire)."""
    if request.param == "redis-server":
        request.getfixturevalue("redis_server_binary")
    else:
        monkeypatch.setattr(nb06, "start_tracking_server", lambda: None)
    return request.param


def test_the_crossing_order_is_solved(where):
    result = check_crossing_schedule(lambda: [SEND, WRITE, DELIVER, RECEIVE])
    assert result.passed, repr(result)
    assert ("real redis-server" in result.message) == (where == "redis-server")


@pytest.mark.parametrize(
    ("schedule", "hint_says"),
    [
        ([SEND, RECEIVE, WRITE, DELIVER], "DELIVER before RECEIVE"),  # the reply landed first: fresh
        ([WRITE, SEND, DELIVER, RECEIVE], "send its read first"),  # the reply already carries v2
        ([SEND, DELIVER, WRITE, RECEIVE], "DELIVER after WRITE"),  # nothing to deliver yet
        ([SEND, WRITE, RECEIVE], "each once"),
    ],
)
def test_wrong_orders_fail_with_a_hint(where, schedule, hint_says):
    result = check_crossing_schedule(lambda: schedule)
    assert not result.passed and hint_says in result.hint, repr(result)


def get_many_solution(near, keys):
    markers = {key: object() for key in keys}
    near.local.update(markers)
    values = near.redis.mget(keys)
    for key, value in zip(keys, values, strict=True):
        if near.local.get(key) is markers[key]:
            near.local[key] = (value, near.clock() + near.ttl_s)
    return values


def get_many_unguarded(near, keys):
    values = near.redis.mget(keys)
    for key, value in zip(keys, values, strict=True):
        near.local[key] = (value, near.clock() + near.ttl_s)
    return values


def get_many_marks_too_late(near, keys):
    values = near.redis.mget(keys)  # the invalidation has already been handled when the markers go in
    markers = {key: object() for key in keys}
    near.local.update(markers)
    for key, value in zip(keys, values, strict=True):
        if near.local.get(key) is markers[key]:
            near.local[key] = (value, near.clock() + near.ttl_s)
    return values


def get_many_all_or_nothing(near, keys):
    markers = {key: object() for key in keys}
    near.local.update(markers)
    values = near.redis.mget(keys)
    if all(near.local.get(key) is markers[key] for key in keys):
        for key, value in zip(keys, values, strict=True):
            near.local[key] = (value, near.clock() + near.ttl_s)
    return values


def get_many_never_keeps(near, keys):
    return near.redis.mget(keys)


def get_many_one_get_per_key(near, keys):
    return [near.get(key) for key in keys]


def get_many_returns_markers(near, keys):
    get_many_solution(near, keys)
    return [near.local.get(key) for key in keys]


def test_the_batched_guard_is_solved(where):
    result = check_get_many(get_many_solution)
    assert result.passed, repr(result)


@pytest.mark.parametrize(
    ("wrong", "hint_says"),
    [
        (get_many_unguarded, "put a fresh marker"),
        (get_many_marks_too_late, "put a fresh marker"),
        (get_many_all_or_nothing, "each key's own marker"),
        (get_many_never_keeps, "Store each value"),
        (get_many_one_get_per_key, "one round trip"),
        (get_many_returns_markers, "never a marker"),
    ],
)
def test_wrong_batched_guards_fail_with_a_hint(where, wrong, hint_says):
    result = check_get_many(wrong)
    assert not result.passed and hint_says in result.hint, repr(result)
    assert "no marker" in result.message or wrong not in (get_many_unguarded, get_many_marks_too_late)


def test_the_reference_handler_forgets_named_keys_and_everything_on_none():
    near = nb06.ReferenceNearCache(redis_client=None)
    near.local.update({"a": ("1", 1e12), "b": ("2", 1e12)})
    near.invalidate(["a", "missing"])
    assert list(near.local) == ["b"]
    near.invalidate(None)
    assert near.local == {}
