"""Notebook 08's checkers: the solutions pass, and known-wrong solutions fail with the hint that names the mistake."""

from __future__ import annotations

import contextlib
import json

import pytest
import redis
from notebook_code import notebook_definitions
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.core.clock import REAL_CLOCK
from helpers.core.keys import KeySpace
from helpers.exercises.nb08_cache_failures import check_fail_open, check_negative_cache

KEYS = KeySpace("08", learner="checker-test")
NB = notebook_definitions("08", keys=KEYS, REAL_CLOCK=REAL_CLOCK)
CircuitBreaker, cached_value = NB["CircuitBreaker"], NB["cached_value"]
NOT_FOUND, NEGATIVE_TTL_MS, PROFILE_TTL_MS = NB["NOT_FOUND"], NB["NEGATIVE_TTL_MS"], NB["PROFILE_TTL_MS"]


def make_breaker():
    return CircuitBreaker(failures_to_open=3, open_s=0.2)


def fast_client(url):
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=0.05, socket_connect_timeout=0.05, retry=Retry(NoBackoff(), 0)
    )


def resilient(*, fail_open=True, breaker_used=True, records_success=True):
    """A get_profile_resilient with parts switched off, like a learner's attempt."""

    def get_profile_resilient(cache, db, breaker, user_id):
        key = KEYS.key("user", user_id)
        if breaker_used and not breaker.allow():
            return db.get_user(user_id)
        try:
            cached = cache.get(key)
        except redis.exceptions.RedisError:
            if not fail_open:
                raise
            if breaker_used:
                breaker.record_failure()
            return db.get_user(user_id)
        if breaker_used and records_success:
            breaker.record_success()
        if cached is not None:
            return json.loads(cached)
        row = db.get_user(user_id)
        with contextlib.suppress(redis.exceptions.RedisError):
            cache.set(key, json.dumps(row), px=PROFILE_TTL_MS)
        return row

    return get_profile_resilient


def test_the_fail_open_solution_passes(redis_server_binary):
    result = check_fail_open(fast_client, resilient(), make_breaker)
    assert result.passed, repr(result)


@pytest.mark.parametrize(
    ("make_client", "read", "hint_says"),
    [
        (fast_client, resilient(fail_open=False), "Catch redis.exceptions.RedisError"),
        (fast_client, resilient(breaker_used=False), "breaker.allow()"),
        (fast_client, resilient(records_success=False), "record_success()"),
        (lambda url: redis.Redis.from_url(url, decode_responses=True), resilient(), "socket_timeout=0.05"),
        (
            lambda url: redis.Redis.from_url(
                url, socket_timeout=0.05, socket_connect_timeout=0.05, retry=Retry(NoBackoff(), 3)
            ),
            resilient(),
            "retry=Retry(",
        ),
    ],
    ids=["no-fail-open", "no-breaker", "never-closes", "no-timeouts", "retries"],
)
def test_wrong_fail_open_solutions_fail_with_their_hint(redis_server_binary, make_client, read, hint_says):
    result = check_fail_open(make_client, read, make_breaker)
    assert not result.passed and hint_says in result.hint, repr(result)


def test_a_read_through_a_client_without_timeouts_fails_on_its_waits(redis_server_binary):
    made = {}

    def remembers_the_url(url):
        made["blocking"] = redis.Redis.from_url(url, decode_responses=True)  # no timeouts: waits out the pause
        return fast_client(url)

    def reads_through_the_other_client(cache, db, breaker, user_id):
        return resilient()(made["blocking"], db, breaker, user_id)

    result = check_fail_open(remembers_the_url, reads_through_the_other_client, make_breaker)
    assert not result.passed and "Use the client from fail_open_client" in result.hint, repr(result)


def negative_cache(*, caches_missing=True, ttl=True, returns_marker=False):
    """A get_profile_or_none with parts switched off."""

    def get_profile_or_none(cache, db, user_id):
        key = KEYS.key("profile", user_id)
        cached = cache.get(key)
        if cached is not None:
            if cached == NOT_FOUND:
                return cached if returns_marker else None
            return json.loads(cached)
        row = db.get_user(user_id)
        if row is None:
            if caches_missing:
                cache.set(key, NOT_FOUND, px=NEGATIVE_TTL_MS if ttl else None)
        else:
            cache.set(key, json.dumps(row), px=PROFILE_TTL_MS)
        return row

    return get_profile_or_none


def test_the_negative_cache_solution_passes(client):
    result = check_negative_cache(negative_cache(), client)
    assert result.passed, repr(result)
    assert KEYS.count(client) == 0  # the checker deletes what it made


@pytest.mark.parametrize(
    ("solution", "hint_says"),
    [
        (negative_cache(caches_missing=False), "store NOT_FOUND"),
        (negative_cache(ttl=False), "px=NEGATIVE_TTL_MS"),
        (negative_cache(returns_marker=True), "Return None for the NOT_FOUND marker"),
    ],
    ids=["no-negative-cache", "no-ttl", "returns-the-marker"],
)
def test_wrong_negative_caches_fail_with_their_hint(client, solution, hint_says):
    result = check_negative_cache(solution, client)
    assert not result.passed and hint_says in result.hint, repr(result)
    KEYS.cleanup(client)
