"""Notebook 02's checker: the solution passes, wrong TTL pickers fail with a hint."""

from __future__ import annotations

from helpers.exercises.nb02_stale_reads import check_pick_ttl
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget


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
