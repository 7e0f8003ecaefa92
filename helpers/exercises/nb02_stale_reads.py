"""Notebook 02's checkers: pick a TTL from a staleness budget and a hit-ratio floor (02.1), and find the longest
TTL within a budget by bisection, checked against the definition itself (02.2)."""

from __future__ import annotations

import math
from collections.abc import Callable

from helpers.exercises.framework import checker, expect
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget, stale_read_share

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


# (read rate per s, update rate per s, stale budget): requirements the bisection is tried on.
LONGEST_TTL_CASES = [
    (2.0, 1 / 600, 0.01),  # a profile page
    (0.5, 1 / 3600, 0.02),  # a settings page
    (10.0, 2.0, 0.05),  # section 3's fast sweep
    (1.0, 1 / 60, 0.001),  # a tight budget
]
LONGER_BY = 1.01  # a TTL 1 % longer than the answer must be over the budget


@checker("02.2")
def check_longest_ttl(longest_ttl_within_budget: Callable[[float, float, float], float]) -> str:
    """Check ``longest_ttl_within_budget(read_rate, update_rate, max_stale_share)`` by the definition itself."""
    for read_rate, update_rate, budget in LONGEST_TTL_CASES:
        call = f"longest_ttl_within_budget({read_rate:g}, {update_rate:.3g}, {budget:g})"
        answer = longest_ttl_within_budget(read_rate, update_rate, budget)
        expect(
            isinstance(answer, (int, float)) and not isinstance(answer, bool) and math.isfinite(answer) and answer > 0,
            f"{call} returned {answer!r}; expected a TTL in seconds (a positive number).",
            "Return `low`, the longest TTL found within the budget, as a number of seconds.",
        )
        share = stale_read_share(read_rate, update_rate, answer)
        expect(
            share <= budget * (1 + 1e-6),
            f"{call} returned {answer:.4g} s, which serves {share:.3%} stale reads: over the {budget:.1%} budget.",
            "Move `low` only to a TTL whose stale_read_share is within the budget, and return `low`, not `high`.",
        )
        longer = stale_read_share(read_rate, update_rate, answer * LONGER_BY)
        expect(
            longer > budget,
            f"{call} returned {answer:.4g} s, but a TTL 1 % longer still serves only {longer:.3%} stale reads "
            f"(budget {budget:.1%}): it is not the longest.",
            "Bisect until `low` and `high` are close (about 60 halvings), and double `high` until it is over the "
            "budget before you start: the answer lies between them.",
        )
    return "each requirement got the longest TTL within its stale budget: within it, and 1 % more is over."
