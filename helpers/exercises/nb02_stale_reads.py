"""Notebook 02's checker: pick the longest TTL that meets a staleness budget and a hit-ratio floor."""

from __future__ import annotations

import math
from collections.abc import Callable

from helpers.exercises.framework import checker, expect
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget

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
