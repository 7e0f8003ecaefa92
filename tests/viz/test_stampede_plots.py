"""The notebook 05 pictures: each draws what it is given and returns the numbers it drew."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.harness.herd_results import HerdResult, QuerySpan, ReadRecord
from helpers.sim.xfetch import XFetchOutcome
from helpers.viz.stampede_plots import plot_expiry_spread, plot_in_flight, plot_ladder, plot_pile_up, plot_xfetch_sweep


def result(recomputations: int, stale: int = 0) -> HerdResult:
    reads = tuple(ReadRecord(i, 0.001 * i, 1.0 + i, stale=i < stale) for i in range(10))
    queries = tuple(QuerySpan(0.25, 0.29) for _ in range(recomputations))
    return HerdResult(10, 0.4, 0.25, reads, queries, recomputations, 0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_in_flight_draws_the_counts_and_the_expiry():
    fig, ax = plt.subplots()
    counts = plot_in_flight(ax, result(3), label="naive")
    assert counts.max() == 3 and counts[:250].max() == 0
    assert any(line.get_linestyle() == "--" for line in ax.get_lines())  # the expiry marker


def test_pile_up_returns_what_it_drew_and_checks_lengths():
    fig, ax = plt.subplots()
    assert plot_pile_up(ax, [10.0, 25.0, 200.0], [11, 29, 50], clients=50) == ([10.0, 25.0, 200.0], [11, 29, 50])
    assert ax.get_ylim()[1] >= 50
    with pytest.raises(InvalidArgument):
        plot_pile_up(ax, [1.0], [1, 2], clients=5)


def test_ladder_has_four_panels_with_one_bar_per_rung():
    fig, axes = plt.subplots(1, 4)
    results = {"naive": result(10), "mutex": result(1), "swr": result(1, stale=4)}
    drawn = plot_ladder(axes, results, ["r", "g", "b"])
    assert drawn["recomputations"] == [10, 1, 1] and drawn["stale reads served"] == [0, 0, 4]
    assert all(len(ax.patches) == 3 for ax in axes)
    with pytest.raises(InvalidArgument):
        plot_ladder(axes[:3], results, ["r", "g", "b"])


def test_xfetch_sweep_overlays_the_expectation_and_marks_misses():
    fig, axes = plt.subplots(1, 2)
    outcomes = [XFetchOutcome(0.3, 10, 25.0, 50.0, 0.1), XFetchOutcome(1.0, 10, 2.7, 240.0, 0.0)]
    drawn = plot_xfetch_sweep(axes, outcomes)
    assert list(drawn["beta"]) == [0.3, 1.0] and list(drawn["lead ms"]) == [50.0, 240.0]
    assert len(axes[1].texts) == 1  # one annotation: the beta with real misses
    with pytest.raises(InvalidArgument):
        plot_xfetch_sweep(axes, [])


def test_expiry_spread_counts_per_bin():
    fig, ax = plt.subplots()
    counts = plot_expiry_spread(ax, {"same": np.full(100, 59.99), "jittered": np.linspace(60, 65.9, 100)})
    assert counts["same"].sum() == 100 and counts["same"].max() == 100
    assert counts["jittered"].sum() == 100 and counts["jittered"].max() <= 10
    with pytest.raises(InvalidArgument):
        plot_expiry_spread(ax, {})
