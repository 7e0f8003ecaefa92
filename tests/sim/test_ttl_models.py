"""The closed forms of a TTL cache, checked against their definitions and against an independent simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.workloads import poisson_arrivals
from helpers.sim.ttl_models import (
    fixed_ttl_hit_ratio,
    longest_ttl_for_stale_budget,
    simulate_key_life,
    sliding_ttl_hit_ratio,
    stale_read_share,
)


def simulate_reads_and_updates(read_rate, update_rate, ttl_s, keys, duration_s, seed):
    """An independent event simulation of cache-aside with a fixed TTL: (hit ratio, stale share)."""
    rng = np.random.default_rng(seed)
    hits = stale = reads = 0
    for _ in range(keys):
        read_times = poisson_arrivals(read_rate, duration_s, rng)
        update_times = poisson_arrivals(update_rate, duration_s, rng)
        expires_at, filled_at = -1.0, -1.0
        for now in read_times:
            reads += 1
            if now < expires_at:
                hits += 1
                updates_since_fill = np.searchsorted(update_times, now) - np.searchsorted(update_times, filled_at)
                stale += updates_since_fill > 0
            else:
                expires_at, filled_at = now + ttl_s, now
    return hits / reads, stale / reads


class TestClosedForms:
    def test_fixed_ttl_is_x_over_one_plus_x(self):
        assert fixed_ttl_hit_ratio(10, 0.1) == pytest.approx(0.5)
        assert fixed_ttl_hit_ratio(4, 1) == pytest.approx(0.8)
        assert fixed_ttl_hit_ratio(0, 5) == 0.0

    def test_sliding_ttl_is_one_minus_exp(self):
        assert sliding_ttl_hit_ratio(10, 0.1) == pytest.approx(1 - math.exp(-1))
        assert sliding_ttl_hit_ratio(3, 0) == 0.0

    def test_sliding_beats_fixed_everywhere(self):
        x = np.geomspace(0.01, 100, 50)
        assert np.all(sliding_ttl_hit_ratio(x, 1) > fixed_ttl_hit_ratio(x, 1))

    def test_scalars_give_floats_and_arrays_give_arrays(self):
        assert isinstance(fixed_ttl_hit_ratio(1, 1), float)
        assert isinstance(stale_read_share(1, 1, 1), float)
        curve = stale_read_share(10, 2, np.array([0.05, 0.1, 0.2]))
        assert isinstance(curve, np.ndarray) and curve.shape == (3,)

    def test_stale_share_formula(self):
        read_rate, update_rate, ttl = 10.0, 2.0, 0.4
        hit = 4 / 5
        y = update_rate * ttl
        assert stale_read_share(read_rate, update_rate, ttl) == pytest.approx(hit * (1 - (1 - math.exp(-y)) / y))

    def test_stale_share_is_zero_without_updates_and_grows_with_the_ttl(self):
        assert stale_read_share(10, 0, 5) == 0.0
        shares = stale_read_share(2, 0.01, np.geomspace(0.01, 1e4, 200))
        assert np.all(np.diff(shares) > 0)
        assert shares[-1] > 0.95  # a very long TTL serves almost every read stale

    def test_small_update_rates_use_the_series_without_a_jump(self):
        below, above = stale_read_share(1, 1, 0.99999e-4), stale_read_share(1, 1, 1.00001e-4)
        assert below == pytest.approx(above, rel=1e-3)
        assert stale_read_share(1, 1e-9, 1.0) == pytest.approx(0.5 * 1e-9 / 2, rel=1e-6)

    @pytest.mark.parametrize(("read_rate", "ttl_s"), [(2.0, 0.5), (10.0, 0.1), (5.0, 0.8)])
    def test_hit_ratios_match_a_long_simulation(self, read_rate, ttl_s):
        fixed = simulate_key_life(read_rate, ttl_s, duration_s=4000 / read_rate, seed=3)
        sliding = simulate_key_life(read_rate, ttl_s, duration_s=4000 / read_rate, seed=3, sliding=True)
        assert fixed.hit_ratio == pytest.approx(fixed_ttl_hit_ratio(read_rate, ttl_s), abs=0.02)
        assert sliding.hit_ratio == pytest.approx(sliding_ttl_hit_ratio(read_rate, ttl_s), abs=0.02)

    @pytest.mark.parametrize(("read_rate", "update_rate", "ttl_s"), [(10.0, 2.0, 0.2), (10.0, 2.0, 0.4), (4.0, 1.0, 1)])
    def test_stale_share_matches_an_independent_simulation(self, read_rate, update_rate, ttl_s):
        hit, stale = simulate_reads_and_updates(read_rate, update_rate, ttl_s, keys=200, duration_s=20, seed=11)
        assert hit == pytest.approx(fixed_ttl_hit_ratio(read_rate, ttl_s), abs=0.02)
        assert stale == pytest.approx(stale_read_share(read_rate, update_rate, ttl_s), abs=0.02)

    @pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "ten", True, [1, -2]])
    def test_bad_input_is_a_clear_error(self, bad):
        with pytest.raises(InvalidArgument, match="read_rate must be a finite number >= 0"):
            fixed_ttl_hit_ratio(bad, 1)
        with pytest.raises(InvalidArgument, match="ttl_s"):
            sliding_ttl_hit_ratio(1, bad)
        with pytest.raises(InvalidArgument, match="update_rate"):
            stale_read_share(1, bad, 1)


class TestStalenessBudget:
    @pytest.mark.parametrize(("read_rate", "update_rate", "budget"), [(2, 1 / 600, 0.01), (10, 2, 0.05), (0.1, 5, 0.3)])
    def test_the_answer_is_exactly_on_budget(self, read_rate, update_rate, budget):
        ttl = longest_ttl_for_stale_budget(read_rate, update_rate, budget)
        assert stale_read_share(read_rate, update_rate, ttl) == pytest.approx(budget, rel=1e-9)
        assert stale_read_share(read_rate, update_rate, ttl * 1.01) > budget

    def test_a_looser_budget_allows_a_longer_ttl(self):
        ttls = [longest_ttl_for_stale_budget(2, 0.01, budget) for budget in (0.001, 0.01, 0.1, 0.5)]
        assert ttls == sorted(ttls) and len(set(ttls)) == 4

    def test_no_updates_means_any_ttl(self):
        assert longest_ttl_for_stale_budget(2, 0, 0.01) == math.inf

    @pytest.mark.parametrize("budget", [0, 1, -0.1, 1.5])
    def test_budget_outside_zero_one_is_refused(self, budget):
        with pytest.raises(InvalidArgument, match="max_stale_share"):
            longest_ttl_for_stale_budget(2, 0.01, budget)

    def test_read_rate_must_be_positive(self):
        with pytest.raises(InvalidArgument, match="read_rate must be > 0"):
            longest_ttl_for_stale_budget(0, 0.01, 0.01)
        with pytest.raises(InvalidArgument, match="update_rate"):
            longest_ttl_for_stale_budget(1, -1, 0.01)


class TestKeyLife:
    def test_one_stay_per_miss_and_stays_do_not_overlap(self):
        life = simulate_key_life(4, 0.5, 30, seed=1)
        assert len(life.alive) == life.misses
        starts = [start for start, _ in life.alive]
        assert starts == [float(t) for t, hit in zip(life.read_times, life.hits, strict=True) if not hit]
        for (_, end), (next_start, _) in zip(life.alive, life.alive[1:], strict=False):
            assert end <= next_start
        assert all(0 <= start < end <= 30 for start, end in life.alive)

    def test_fixed_stays_last_exactly_one_ttl(self):
        life = simulate_key_life(4, 0.5, 30, seed=1)
        assert all(end - start == pytest.approx(0.5) for start, end in life.alive[:-1])

    def test_sliding_hits_at_least_as_often_on_the_same_reads(self):
        fixed = simulate_key_life(4, 0.5, 30, seed=2)
        sliding = simulate_key_life(4, 0.5, 30, seed=2, sliding=True)
        assert np.array_equal(fixed.read_times, sliding.read_times)
        assert np.all(sliding.hits >= fixed.hits) and sliding.hit_ratio > fixed.hit_ratio

    def test_same_seed_same_life(self):
        assert simulate_key_life(3, 0.2, 10, seed=5).alive == simulate_key_life(3, 0.2, 10, seed=5).alive

    def test_bad_input(self):
        with pytest.raises(InvalidArgument, match="ttl_s must be > 0"):
            simulate_key_life(3, 0, 10, seed=1)
        with pytest.raises(InvalidArgument, match="rate_per_s"):
            simulate_key_life(-3, 1, 10, seed=1)
