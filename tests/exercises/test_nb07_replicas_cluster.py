"""Notebook 07's checkers: the solutions pass, and known-wrong answers fail with a hint that names the mistake."""

from __future__ import annotations

import time

import pytest

from helpers.exercises.nb07_replicas_cluster import FakeClock, check_read_your_writes, check_tagged_keys


class Router:
    """The notebook's ReadYourWrites with a ``read`` chosen by each test."""

    def __init__(self, primary, replica, window_s=1.0, clock=time.monotonic):
        self.primary, self.replica = primary, replica
        self.window_s, self.clock = window_s, clock
        self.last_write = {}

    def write(self, user, key, value):
        self.primary.set(key, value)
        self.last_write[user] = self.clock()


class Solution(Router):
    def read(self, user, key):
        wrote_at = self.last_write.get(user)
        if wrote_at is not None and self.clock() - wrote_at < self.window_s:
            return self.primary.get(key)
        return self.replica.get(key)


class AlwaysReplica(Router):
    def read(self, user, key):
        return self.replica.get(key)


class AlwaysPrimary(Router):
    def read(self, user, key):
        return self.primary.get(key)


class ByKey(Router):
    """Routes by the key written, not by the user who wrote it."""

    def write(self, user, key, value):
        self.primary.set(key, value)
        self.last_write[key] = self.clock()

    def read(self, user, key):
        wrote_at = self.last_write.get(key)
        if wrote_at is not None and self.clock() - wrote_at < self.window_s:
            return self.primary.get(key)
        return self.replica.get(key)


class NeverForgets(Router):
    def read(self, user, key):
        return (self.primary if user in self.last_write else self.replica).get(key)


def test_the_routing_solution_passes(redis_server_binary):
    result = check_read_your_writes(Solution)
    assert result.passed, repr(result)


@pytest.mark.parametrize(
    ("router", "hint_says"),
    [
        (AlwaysReplica, "send that user's reads to self.primary"),
        (AlwaysPrimary, "Only the user who wrote"),
        (ByKey, "route by the user, not by the key"),
        (NeverForgets, "the window ends"),
    ],
)
def test_wrong_routers_fail_with_a_hint(router, hint_says, redis_server_binary):
    result = check_read_your_writes(router)
    assert not result.passed and hint_says in result.hint, repr(result)


def test_the_tagged_keys_solution_passes(redis_server_binary):
    result = check_tagged_keys(lambda user: (f"profile:{{user:{user}}}", f"version:{{user:{user}}}"))
    assert result.passed, repr(result)


@pytest.mark.parametrize(
    ("user_keys", "hint_says"),
    [
        (lambda user: (f"profile:{user}", f"version:{user}"), "same hash tag"),  # no tag: CROSSSLOT
        (lambda user: (f"{{user}}:profile:{user}", f"{{user}}:version:{user}"), "not by a constant"),
        (lambda user: (f"{{profile}}:{user}", f"{{version}}:{user}"), "same hash tag"),  # two different tags
        (lambda user: (f"user:{user}", f"user:{user}"), "different names"),
        (lambda user: ("profile:{x}", "version:{x}"), "user id in both"),
        (lambda user: f"profile:{{{user}}}", "two names"),
    ],
)
def test_wrong_key_names_fail_with_a_hint(user_keys, hint_says, redis_server_binary):
    result = check_tagged_keys(user_keys)
    assert not result.passed and hint_says in result.hint, repr(result)


def test_the_fake_clock_moves_only_when_told():
    clock = FakeClock()
    start = clock()
    clock.advance(1.5)
    assert clock() == start + 1.5
