"""Notebook 02's checkers: the solutions pass, wrong TTL pickers and wrong bisections fail with a hint."""

from __future__ import annotations

import pytest

from helpers.exercises.nb02_stale_reads import check_longest_ttl, check_pick_ttl
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget, stale_read_share


def solution(read_rate, update_rate, max_stale_share, min_hit_ratio):
    ttl = longest_ttl_for_stale_budget(read_rate, update_rate, max_stale_share)
    return None if fixed_ttl_hit_ratio(read_rate, ttl) < min_hit_ratio else ttl


class TestPickTtl:
    def test_the_solution_passes(self):
        assert check_pick_ttl(solution).passed

    def test_forgetting_the_hit_ratio_floor_fails(self):
        result = check_pick_ttl(lambda lam, mu, budget, floor: longest_ttl_for_stale_budget(lam, mu, budget))
        assert not result.passed and "no TTL gives both" in result.message and "None" in result.hint

    def test_a_too_long_or_too_short_ttl_fails(self):
        too_long = check_pick_ttl(lambda *args: None if solution(*args) is None else solution(*args) * 2)
        assert not too_long.passed and "longer than" in too_long.message
        assert "longest_ttl_for_stale_budget" in too_long.hint
        too_short = check_pick_ttl(lambda *args: None if solution(*args) is None else solution(*args) / 2)
        assert not too_short.passed and "more hits" in too_short.message
        assert "not a shorter one" in too_short.hint

    def test_not_a_number_fails(self):
        result = check_pick_ttl(lambda *args: "12 s")
        assert not result.passed and "expected a TTL in seconds" in result.message
        assert "Return the TTL in seconds" in result.hint

    def test_messages_hold_no_timings_so_stored_outputs_are_stable(self):
        assert repr(check_pick_ttl(lambda *args: "12 s")) == repr(check_pick_ttl(lambda *args: "12 s"))


def bisection(kind="right"):
    """The learner's bisection for 02.2, right or with one of the usual mistakes."""

    def longest_ttl_within_budget(read_rate, update_rate, max_stale_share):
        low, high = 1e-9, 1.0
        while kind != "no-bracket" and stale_read_share(read_rate, update_rate, high) <= max_stale_share:
            low, high = high, 2 * high
        if kind == "doubling-only":
            return high  # the first doubled TTL over the budget
        for _ in range(8 if kind == "few-steps" else 60):
            middle = (low + high) / 2
            within = stale_read_share(read_rate, update_rate, middle) <= max_stale_share
            if within != (kind == "backwards"):
                low = middle
            else:
                high = middle
        return low

    return longest_ttl_within_budget


class TestLongestTtl:
    def test_the_bisection_passes_and_matches_the_helper(self):
        assert check_longest_ttl(bisection()).passed
        assert bisection()(2.0, 1 / 600, 0.01) == pytest.approx(longest_ttl_for_stale_budget(2.0, 1 / 600, 0.01), 1e-6)

    @pytest.mark.parametrize(
        ("kind", "problem", "hint"),
        [
            ("doubling-only", "over the", "not `high`"),
            ("backwards", "it is not the longest", "about 60 halvings"),
            ("few-steps", "it is not the longest", "about 60 halvings"),
            ("no-bracket", "it is not the longest", "double `high`"),
        ],
    )
    def test_wrong_bisections_fail_with_their_hint(self, kind, problem, hint):
        result = check_longest_ttl(bisection(kind))
        assert not result.passed and problem in result.message and hint in result.hint, repr(result)

    def test_the_hit_ratio_ttl_or_a_string_fails(self):
        result = check_longest_ttl(lambda lam, mu, budget: "60 s")
        assert not result.passed and "positive number" in result.message and result.hint
