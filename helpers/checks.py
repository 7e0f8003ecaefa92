"""Exercise checkers for the "Your turn" cells: a pass, or what is wrong and a hint.

A checker is a function decorated with ``@checker("00.1")`` that exercises the learner's code and
calls ``expect(condition, problem, hint)`` for each requirement. Whatever happens, it returns a
``CheckResult`` whose text is the same on every run (no timings), so notebooks can store it.

Checkers that need only the core helpers live here; a topic's checker lives beside its topic's
helpers (for example the stampede checker in the stampede module).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import redis

from helpers.keys import KeySpace
from helpers.primary_db import PrimaryDatabase

STUB_HINT = "Replace the `raise NotImplementedError(...)` line with your code, run that cell, then run this one again."


class Hint(Exception):
    """Raised inside a checker: what is wrong (``problem``) and how to get closer (``hint``)."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""

    def __repr__(self) -> str:
        if self.passed:
            return f"✅ Exercise {self.exercise} solved: {self.message}"
        return f"❌ Exercise {self.exercise} not solved yet: {self.message}\n   Hint: {self.hint}"

    def __bool__(self) -> bool:
        return self.passed


def expect(condition: object, problem: str, hint: str) -> None:
    """Fail the check with ``problem`` and ``hint`` unless ``condition`` is true."""
    if not condition:
        raise Hint(problem, hint)


def checker(exercise: str) -> Callable[[Callable[..., str]], Callable[..., CheckResult]]:
    """Turn ``check(...) -> success message`` into a function returning a CheckResult, never raising."""

    def decorate(check: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(check)
        def run(*args: object, **kwargs: object) -> CheckResult:
            try:
                message = check(*args, **kwargs)
            except NotImplementedError:
                return CheckResult(exercise, False, "the function still raises NotImplementedError.", STUB_HINT)
            except Hint as failed:
                return CheckResult(exercise, False, failed.problem, failed.hint)
            except Exception as exc:  # the learner's code raised: report it, do not crash the notebook
                return CheckResult(
                    exercise,
                    False,
                    f"your function raised {type(exc).__name__}: {exc}",
                    "Run it by hand on one user id to see the error, fix it, then check again.",
                )
            return CheckResult(exercise, True, message)

        return run

    return decorate


# -- 00 · Your first cache -------------------------------------------------------------------------
DISPLAY_NAME_TTL_S = 300


@checker("00.1")
def check_display_name(
    get_display_name: Callable[[int], str], cache: redis.Redis, db: PrimaryDatabase, keys: KeySpace
) -> str:
    """Check a cache-aside ``get_display_name(user_id)``: plain-string value, 300 s TTL, one query per user."""
    users = [3, 14, 15]
    expected = {user_id: db.get_user(user_id)["name"] for user_id in users}
    name_keys = {user_id: keys.key("name", user_id) for user_id in users}
    cache.delete(*name_keys.values())
    try:
        before = db.query_count
        first = {user_id: get_display_name(user_id) for user_id in users}
        first_queries = db.query_count - before
        for user_id in users:
            expect(
                first[user_id] == expected[user_id],
                f"get_display_name({user_id}) returned {first[user_id]!r}, expected {expected[user_id]!r}.",
                "Return the user's name: db.get_user(user_id)['name'], or the string you read from Redis.",
            )
        expect(
            first_queries == len(users),
            f"the first call per user should read the database once; {len(users)} calls made {first_queries} queries.",
            "On a miss, call db.get_user(user_id) exactly once.",
        )
        stored = {user_id: cache.get(name_keys[user_id]) for user_id in users}
        for user_id, value in stored.items():
            expect(
                value is not None,
                f"nothing was stored under {name_keys[user_id]!r} after a miss.",
                "After reading the database, SET the name in Redis under keys.key('name', user_id).",
            )
            expect(
                value == expected[user_id],
                f"Redis holds {value!r} under {name_keys[user_id]!r}, expected the plain name {expected[user_id]!r}.",
                "Store the name string itself (r.set(key, name, ...)), not json.dumps(...) or the whole row.",
            )
        ttl = cache.ttl(name_keys[users[0]])
        expect(
            ttl != -1,
            f"{name_keys[users[0]]!r} has no TTL (TTL replied -1), so it would never expire.",
            f"Pass ex={DISPLAY_NAME_TTL_S} to r.set(...).",
        )
        expect(
            DISPLAY_NAME_TTL_S - 5 <= ttl <= DISPLAY_NAME_TTL_S,
            f"{name_keys[users[0]]!r} has a TTL of {ttl} s, expected {DISPLAY_NAME_TTL_S} s.",
            f"Use ex={DISPLAY_NAME_TTL_S} (seconds), not px (milliseconds) or another number.",
        )
        before = db.query_count
        second = {user_id: get_display_name(user_id) for user_id in users}
        repeat_queries = db.query_count - before
        expect(
            repeat_queries == 0,
            f"calling again for cached users made {repeat_queries} database queries; a hit should make none.",
            "Read the key with r.get(key) first and return its value when it is not None.",
        )
        expect(
            second == expected,
            f"on a hit get_display_name returned {second[users[0]]!r} for user {users[0]}.",
            "On a hit, return the string Redis gave you (with decode_responses it is already a str).",
        )
    finally:
        cache.delete(*name_keys.values())
    return (
        f"{len(users)} misses read the database once each, the repeats were served from Redis, "
        f"and each name was cached as a plain string with a {DISPLAY_NAME_TTL_S} s TTL."
    )
