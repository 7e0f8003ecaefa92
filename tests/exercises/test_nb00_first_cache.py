"""Notebook 00's checker: the solution passes, each known mistake gets its own hint."""

from __future__ import annotations

import json

import pytest

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb00_first_cache import check_display_name, check_missing_user


@pytest.fixture
def setup(fake_client):
    r, keys, db = fake_client, KeySpace("00", learner="ada"), PrimaryDatabase(users=50, delay_ms=0)
    yield r, db, keys
    keys.cleanup(r)


def solution(r, db, keys):
    def get_display_name(user_id):
        key = keys.key("name", user_id)
        name = r.get(key)
        if name is None:
            name = db.get_user(user_id)["name"]
            r.set(key, name, ex=300)
        return name

    return get_display_name


def mutant(kind):
    """Plausible wrong answers, each of which the checker must reject with its own hint."""

    def make(r, db, keys):
        memo = {}

        def get_display_name(user_id):
            key = keys.key("name", user_id)
            if kind == "stub":
                raise NotImplementedError
            if kind == "always-database":
                return db.get_user(user_id)["name"]
            if kind == "python-dict":
                if user_id not in memo:
                    memo[user_id] = db.get_user(user_id)["name"]
                return memo[user_id]
            cached = r.get(key if kind != "wrong-key" else f"name:{user_id}")
            if cached is not None:
                return json.loads(cached) if kind == "json" else cached
            name = db.get_user(user_id)["name"]
            if kind == "no-ttl":
                r.set(key, name)
            elif kind == "milliseconds":
                r.set(key, name, px=300)
            elif kind == "json":
                r.set(key, json.dumps(name), ex=300)
            elif kind == "wrong-key":
                r.set(f"name:{user_id}", name, ex=300)
            elif kind == "whole-row":
                r.set(key, name, ex=300)
                return db.get_user(user_id)
            return name

        return get_display_name

    return make


def test_the_solution_passes(setup):
    result = check_display_name(solution(*setup), *setup)
    assert result.passed, repr(result)


@pytest.mark.parametrize(
    ("kind", "expected", "hint"),
    [
        ("stub", "still raises NotImplementedError", "Replace the `raise NotImplementedError"),
        ("always-database", "nothing was stored under", "SET the name in Redis"),
        ("python-dict", "nothing was stored under", "SET the name in Redis"),
        ("wrong-key", "nothing was stored under 'rcp:00:ada:name:3'", "keys.key('name', user_id)"),
        ("no-ttl", "has no TTL", "Pass ex="),
        ("milliseconds", "has a TTL of 0 s", "not px (milliseconds)"),
        ("json", "expected the plain name", "not json.dumps"),
        ("whole-row", "returned {", "db.get_user(user_id)['name']"),
    ],
)
def test_mistakes_get_a_specific_hint(setup, kind, expected, hint):
    result = check_display_name(mutant(kind)(*setup), *setup)
    assert not result.passed
    assert expected in result.message and hint in result.hint, repr(result)


def test_the_checker_cleans_up_after_itself(setup):
    r, db, keys = setup
    check_display_name(solution(*setup), *setup)
    assert keys.count(r) == 0
    r.delete("name:3", "name:14", "name:15")


def profile_or_none(r, db, keys, kind="right"):
    """``get_profile_or_none``: the right answer, or one of the plausible wrong ones."""

    def get_profile_or_none(user_id):
        key = keys.key("user", user_id)
        cached = r.get(key)
        if cached is not None:
            return cached if kind == "raw-string" else json.loads(cached)
        profile = db.get_user(user_id)
        if profile is None and kind == "not-cached":
            return None
        if kind == "no-ttl":
            r.set(key, json.dumps(profile))
        elif kind == "same-ttl":
            r.set(key, json.dumps(profile), ex=60)
        elif kind == "short-for-all":
            r.set(key, json.dumps(profile), ex=30)
        else:
            r.set(key, json.dumps(profile), ex=60 if profile is not None else 30)
        return profile

    return get_profile_or_none


def test_caching_the_miss_passes(setup):
    result = check_missing_user(profile_or_none(*setup), *setup)
    assert result.passed, repr(result)
    r, db, keys = setup
    assert keys.count(r) == 0


@pytest.mark.parametrize(
    ("kind", "expected", "hint"),
    [
        ("not-cached", "made 2 database queries", "Cache the miss too"),
        ("raw-string", "then 'null'", "loads back as None"),
        ("no-ttl", "has no TTL", "MISSING_TTL_S"),
        ("same-ttl", "has a TTL of 60 s", "shorter MISSING_TTL_S"),
        ("short-for-all", "has a TTL of 30 s; expected 60 s", "Only a missing user"),
    ],
)
def test_wrong_ways_of_caching_a_miss_fail_with_their_hint(setup, kind, expected, hint):
    result = check_missing_user(profile_or_none(*setup, kind=kind), *setup)
    assert not result.passed
    assert expected in result.message and hint in result.hint, repr(result)
