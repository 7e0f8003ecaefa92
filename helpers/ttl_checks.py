"""Exercise checkers for the TTL notebooks: 01 (keep a TTL through an update) and 02 (pick a TTL for a budget).

Each checker exercises the learner's function and returns a ``CheckResult`` (see ``helpers.checks``):
a pass, or what is wrong and a hint. The texts hold no timings, so a stored "not solved yet" is stable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import redis

from helpers.checks import checker, expect
from helpers.keys import KeySpace
from helpers.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget

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
PICK_TTL_CASES = [
    (2.0, 1 / 600, 0.01, 0.90),  # a profile page: feasible
    (0.5, 1 / 3600, 0.02, 0.95),  # a settings page: feasible
    (1.0, 1 / 60, 0.01, 0.90),  # a price that changes every minute: no TTL meets both
]


@checker("02.1")
def check_pick_ttl(pick_ttl: Callable[[float, float, float, float], float | None]) -> str:
    """Check ``pick_ttl(read_rate, update_rate, max_stale_share, min_hit_ratio)`` against the closed forms."""
    for read_rate, update_rate, budget, floor in PICK_TTL_CASES:
        call = f"pick_ttl({read_rate:g}, {update_rate:.3g}, {budget:g}, {floor:g})"
        longest = longest_ttl_for_stale_budget(read_rate, update_rate, budget)
        feasible = fixed_ttl_hit_ratio(read_rate, longest) >= floor
        answer = pick_ttl(read_rate, update_rate, budget, floor)
        if not feasible:
            expect(
                answer is None,
                f"{call} returned {answer!r}, but no TTL gives both ≤ {budget:.0%} stale reads and "
                f"≥ {floor:.0%} hits here (the longest TTL within the budget gives "
                f"{fixed_ttl_hit_ratio(read_rate, longest):.0%} hits).",
                "After finding the longest TTL within the stale budget, check its hit ratio with "
                "fixed_ttl_hit_ratio(read_rate, ttl); return None when it is below min_hit_ratio.",
            )
            continue
        expect(
            isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isfinite(answer),
            f"{call} returned {answer!r}; expected a TTL in seconds (a number).",
            "Return the TTL in seconds, e.g. longest_ttl_for_stale_budget(read_rate, update_rate, max_stale_share).",
        )
        expect(
            answer <= longest * 1.001,
            f"{call} returned {answer:.4g} s, longer than the {longest:.4g} s that keeps stale reads "
            f"within {budget:.0%}.",
            "Use longest_ttl_for_stale_budget(read_rate, update_rate, max_stale_share): any longer TTL "
            "serves more stale reads than the budget allows.",
        )
        expect(
            answer >= longest * 0.9,
            f"{call} returned {answer:.4g} s; {longest:.4g} s still meets the budget and gives more hits.",
            "Pick the longest TTL that meets the stale budget, not a shorter one: the hit ratio grows with the TTL.",
        )
    return "each requirement got the longest TTL within its stale budget, and None when no TTL meets both."
