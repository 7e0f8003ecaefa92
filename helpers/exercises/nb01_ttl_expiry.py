"""Notebook 01's checker: update a cached user without losing its TTL (no new key, the TTL kept).

Each checker exercises the learner's function and returns a ``CheckResult`` (see ``helpers.exercises.framework``):
a pass, or what is wrong and a hint. The texts hold no timings, so a stored "not solved yet" is stable.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from helpers.core.keys import KeySpace
from helpers.exercises.framework import checker, expect

# -- 01 · TTL expiry ---------------------------------------------------------------------------------
CHECK_TTL_MS = 45_000  # an unusual TTL, so that a new TTL (ex=60, px=30_000, ...) is told apart from the kept one
KEPT_SLACK_MS = 5_000  # how much of it the learner's update may take


@checker("01.1")
def check_update_cached_city(
    update_cached_city: Callable[[int, str], object], cache: redis.Redis, keys: KeySpace
) -> str:
    """Check ``update_cached_city(user_id, city)``: edits the cached JSON in place, keeps the TTL, adds no key."""
    cached_id, uncached_id = 901, 902
    cached_key, uncached_key = keys.key("user", cached_id), keys.key("user", uncached_id)
    profile = {"id": cached_id, "name": "Grace Hopper", "city": "Lisbon", "plan": "pro", "version": 1}
    cache.delete(cached_key, uncached_key)
    try:
        cache.set(cached_key, json.dumps(profile), px=CHECK_TTL_MS)
        update_cached_city(cached_id, "Osaka")
        stored = cache.get(cached_key)
        expect(
            stored is not None,
            f"after update_cached_city({cached_id}, 'Osaka') the cached profile {cached_key!r} is gone.",
            "Update the cached JSON in place (GET, change the city, SET); do not delete the key.",
        )
        updated = json.loads(stored)
        expect(
            updated.get("city") == "Osaka",
            f"the cached profile's city is {updated.get('city')!r}, expected 'Osaka'.",
            "json.loads the cached value, set profile['city'] = city, and SET json.dumps(profile) back.",
        )
        expect(
            {k: v for k, v in updated.items() if k != "city"} == {k: v for k, v in profile.items() if k != "city"},
            "fields other than the city changed in the cached profile.",
            "Change only profile['city']; keep every other field as it was.",
        )
        remaining = cache.pttl(cached_key)
        expect(
            remaining != -1,
            f"{cached_key!r} no longer has a TTL (PTTL replied -1): it would now be cached forever.",
            "A plain SET throws the old TTL away. Pass keepttl=True to r.set(...) to keep it.",
        )
        expect(
            CHECK_TTL_MS - KEPT_SLACK_MS <= remaining <= CHECK_TTL_MS,
            f"the TTL of {cached_key!r} changed: it was {CHECK_TTL_MS // 1000} s just before your update.",
            "Keep the remaining TTL with keepttl=True rather than setting a new one with ex= or px=.",
        )
        update_cached_city(uncached_id, "Quito")
        expect(
            cache.exists(uncached_key) == 0,
            f"update_cached_city({uncached_id}, 'Quito') created {uncached_key!r}, a profile that was not cached.",
            "When r.get(key) is None, do nothing: the next read loads the whole, fresh row from the database.",
        )
    finally:
        cache.delete(cached_key, uncached_key)
    return "the city changed in place, the remaining TTL was kept (no -1), and nothing new was cached."


# -- 02 · Stale reads --------------------------------------------------------------------------------
# (read rate per s, update rate per s, stale budget, minimum hit ratio): requirements the checker tries.
