"""Notebook 00's checkers: a cache-aside ``get_display_name`` (a plain string and a TTL), and a cached miss."""

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


PROFILE_TTL_S, MISSING_TTL_S = 60, 30


@checker("00.2")
def check_missing_user(
    get_profile_or_none: Callable[[int], dict | None], cache: redis.Redis, db: PrimaryDatabase, keys: KeySpace
) -> str:
    """Check ``get_profile_or_none(user_id)``: a missing user is cached as JSON null with the shorter TTL."""
    missing, present = db.users + 17, 42
    missing_key, present_key = keys.key("user", missing), keys.key("user", present)
    cache.delete(missing_key, present_key)
    try:
        before = db.query_count
        answers = [get_profile_or_none(missing), get_profile_or_none(missing)]
        queries = db.query_count - before
        expect(
            answers == [None, None],
            f"get_profile_or_none({missing}) returned {answers[0]!r}, then {answers[1]!r}; expected None both times.",
            "Return json.loads(cached): the JSON text 'null' loads back as None, not as the string 'null'.",
        )
        expect(
            queries == 1,
            f"two calls for the missing user {missing} made {queries} database queries; expected 1.",
            "Cache the miss too: r.set(key, json.dumps(profile), ...) also when profile is None, and on the next "
            "call test `cached is not None` (the value 'null' is not None).",
        )
        stored = cache.get(missing_key)
        expect(
            stored == "null",
            f"{missing_key!r} holds {stored!r} after the miss; expected the JSON of None, 'null'.",
            "Store json.dumps(profile) under keys.key('user', user_id), whatever db.get_user returned.",
        )
        missing_ttl = cache.ttl(missing_key)
        expect(
            missing_ttl != -1,
            f"{missing_key!r} has no TTL (TTL replied -1): a user created later would stay 'missing' for good.",
            f"Pass ex=MISSING_TTL_S ({MISSING_TTL_S} s) when profile is None.",
        )
        expect(
            MISSING_TTL_S - 5 <= missing_ttl <= MISSING_TTL_S,
            f"the cached miss {missing_key!r} has a TTL of {missing_ttl} s; expected {MISSING_TTL_S} s.",
            "Give a missing user the shorter MISSING_TTL_S, in seconds (ex=), so a new account shows up soon.",
        )
        profile = get_profile_or_none(present)
        expect(
            profile == db.get_user(present),
            f"get_profile_or_none({present}) returned {profile!r}, not user {present}'s row.",
            "For a user that exists, return the dict db.get_user(user_id) gave you (json.loads of the cached JSON).",
        )
        present_ttl = cache.ttl(present_key)
        expect(
            PROFILE_TTL_S - 5 <= present_ttl <= PROFILE_TTL_S,
            f"the cached profile {present_key!r} has a TTL of {present_ttl} s; expected {PROFILE_TTL_S} s.",
            "Only a missing user gets MISSING_TTL_S; a real profile keeps PROFILE_TTL_S.",
        )
        before = db.query_count
        again = get_profile_or_none(present)
        expect(
            db.query_count == before and again == profile,
            "a second call for a cached profile did not come from Redis.",
            "On a hit, return json.loads(cached) without querying the database.",
        )
    finally:
        cache.delete(missing_key, present_key)
    return (
        f"a missing user cost one database query for two calls and was cached as null for {MISSING_TTL_S} s; "
        f"a real profile kept its {PROFILE_TTL_S} s TTL."
    )
