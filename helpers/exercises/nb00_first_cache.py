"""Notebook 00's checker: a cache-aside ``get_display_name`` with a plain-string value and a TTL."""

from __future__ import annotations

from collections.abc import Callable

import redis

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.framework import checker, expect

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
