"""Notebook 00's checker: the solution passes, each known mistake gets its own hint."""

from __future__ import annotations

import json

import pytest

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb00_first_cache import check_display_name


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
