"""The XFetch simulation: the rule applied to seeded read streams agrees with the paper's expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.sim.xfetch import XFetchOutcome, simulate_xfetch, sweep_xfetch


def xfetch_rule(time_left_s, delta_s, beta, u):
    return -delta_s * beta * np.log(u) >= time_left_s


def scalar_only_rule(time_left_s, delta_s, beta, u):
    return -delta_s * beta * math.log(float(np.asarray(u).ravel()[0])) >= float(np.asarray(time_left_s).ravel()[0])


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_duplicates_per_expiry_match_e_to_the_one_over_beta(beta):
    outcome = simulate_xfetch(xfetch_rule, beta, rate_per_s=5000, recompute_ms=40, expiries=400, seed=3)
    assert outcome.recomputations_per_expiry == pytest.approx(math.exp(1 / beta), rel=0.2)
    assert outcome.expected_recomputations == pytest.approx(math.exp(1 / beta))
    assert outcome.miss_share == 0  # at this rate, beta >= 1 always refreshes in time


def test_lead_time_follows_beta_delta_log_rate():
    # The first trigger comes when rate * beta * delta * exp(-lead / (beta * delta)) ~ Exp(1): on average
    # lead ~ beta * delta * (ln(rate * beta * delta) + Euler's gamma).
    outcome = simulate_xfetch(xfetch_rule, 1.0, rate_per_s=5000, recompute_ms=40, expiries=400, seed=4)
    expected_ms = 40 * (math.log(5000 * 0.04) + 0.5772)
    assert outcome.lead_ms == pytest.approx(expected_ms, rel=0.1)


def test_a_tiny_beta_lets_some_expiries_through():
    outcome = simulate_xfetch(xfetch_rule, 0.2, rate_per_s=5000, recompute_ms=40, expiries=300, seed=5)
    assert outcome.miss_share > 0.2


def test_a_rule_that_never_fires_is_a_plain_herd():
    never = simulate_xfetch(lambda t, d, b, u: np.zeros_like(t, dtype=bool), 1.0, rate_per_s=1000, recompute_ms=40)
    assert never.miss_share == 1.0 and never.lead_ms == 0.0
    assert never.recomputations_per_expiry == pytest.approx(1000 * 0.04, rel=0.15)  # rate x recompute time


def test_same_seed_same_outcome_and_sweep_order():
    first = sweep_xfetch(xfetch_rule, [0.5, 1, 2], rate_per_s=2000, recompute_ms=20, expiries=50, seed=9)
    again = sweep_xfetch(xfetch_rule, [0.5, 1, 2], rate_per_s=2000, recompute_ms=20, expiries=50, seed=9)
    assert first == again
    assert [o.beta for o in first] == [0.5, 1.0, 2.0] and all(isinstance(o, XFetchOutcome) for o in first)
    assert [o.lead_ms for o in first] == sorted(o.lead_ms for o in first)


def test_bad_arguments_are_refused():
    with pytest.raises(InvalidArgument):
        simulate_xfetch(xfetch_rule, 0, rate_per_s=100, recompute_ms=40)
    with pytest.raises(InvalidArgument):
        simulate_xfetch(xfetch_rule, 1, rate_per_s=100, recompute_ms=40, expiries=0)
    with pytest.raises(InvalidArgument):
        simulate_xfetch(xfetch_rule, 1, rate_per_s=-1, recompute_ms=40)
    with pytest.raises(InvalidArgument, match="np.log"):
        simulate_xfetch(scalar_only_rule, 1, rate_per_s=100, recompute_ms=40, expiries=2)
    with pytest.raises(InvalidArgument):
        sweep_xfetch(xfetch_rule, [], rate_per_s=100, recompute_ms=40)
