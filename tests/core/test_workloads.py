"""Seeded request streams."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.workloads import (
    add_newcomers,
    interleave_scan,
    poisson_arrivals,
    shift_popularity,
    zipf_popularity,
    zipf_requests,
)


def test_zipf_popularity_is_a_normalised_power_law():
    p = zipf_popularity(100, 1.0)
    assert p.sum() == pytest.approx(1.0)
    assert p[0] / p[9] == pytest.approx(10.0)  # rank 1 is ten times as popular as rank 10 at skew 1
    assert np.allclose(zipf_popularity(5, 0.0), 0.2)  # skew 0 is uniform


def test_zipf_requests_are_seeded_and_skewed():
    a = zipf_requests(50, 1.0, 20_000, seed=1)
    assert np.array_equal(a, zipf_requests(50, 1.0, 20_000, seed=1))
    assert not np.array_equal(a, zipf_requests(50, 1.0, 20_000, seed=2))
    assert a.min() >= 0 and a.max() < 50
    share_of_top = np.mean(a == 0)
    assert share_of_top == pytest.approx(zipf_popularity(50, 1.0)[0], abs=0.01)


def test_poisson_arrivals_rate_and_range():
    times = poisson_arrivals(rate_per_s=200.0, duration_s=10.0, seed=3)
    assert np.all(np.diff(times) > 0) and times[0] >= 0 and times[-1] < 10.0
    assert len(times) == pytest.approx(2000, rel=0.1)
    assert np.array_equal(times, poisson_arrivals(200.0, 10.0, seed=3))
    assert not np.array_equal(times, poisson_arrivals(200.0, 10.0, seed=4))


def test_poisson_arrivals_gaps_look_exponential():
    gaps = np.diff(poisson_arrivals(100.0, 100.0, seed=5))
    assert gaps.mean() == pytest.approx(0.01, rel=0.05)
    assert np.mean(gaps > 0.01) == pytest.approx(np.exp(-1), abs=0.02)  # P(gap > mean) = 1/e


def test_poisson_arrivals_from_a_shared_generator():
    """Streams drawn in turn from one Generator: a count, then the times (the schedules' and XFetch's order)."""
    rng = np.random.default_rng(9)
    first, second = poisson_arrivals(5.0, 2.0, rng), poisson_arrivals(50.0, 2.0, rng)
    again = np.random.default_rng(9)
    expected = np.sort(again.uniform(0.0, 2.0, again.poisson(10.0)))
    assert np.array_equal(first, expected)
    assert np.array_equal(second, np.sort(again.uniform(0.0, 2.0, again.poisson(100.0))))


def test_poisson_arrivals_at_rate_zero_is_empty():
    assert poisson_arrivals(0.0, 5.0, seed=1).size == 0
    assert poisson_arrivals(np.float64(2.0), np.int64(3), seed=1).size > 0  # numpy numbers are numbers


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: zipf_popularity(0, 1.0), "n_keys must be"),
        (lambda: zipf_popularity(10, -1.0), "skew must be"),
        (lambda: zipf_requests(10, 1.0, -5, seed=0), "n_requests must be"),
        (lambda: zipf_requests(10, 1.0, 5.0, seed=0), r"n_requests must be a whole number >= 0, got 5\.0 \(pass 5"),
        (lambda: poisson_arrivals(-1.0, 1.0, seed=0), "rate_per_s must be a number >= 0"),
        (lambda: poisson_arrivals(1.0, -1.0, seed=0), "duration_s must be"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_shift_popularity_moves_the_hot_keys_at_the_shift():
    ranks = zipf_requests(100, 1.0, 2_000, seed=5)
    shifted = shift_popularity(ranks, at=1_000, offset=50, n_keys=100)
    assert np.array_equal(shifted[:1_000], ranks[:1_000])
    assert np.array_equal(shifted[1_000:], (ranks[1_000:] + 50) % 100)
    assert np.bincount(shifted[1_000:], minlength=100).argmax() == 50  # the new favourite
    with pytest.raises(InvalidArgument):
        shift_popularity(ranks, at=3_000, offset=50, n_keys=100)


def test_interleave_scan_inserts_fresh_keys_before_each_request_of_the_span():
    ranks = np.array([0, 1, 2, 3, 4])
    sequence, is_scan = interleave_scan(ranks, 1, 3, per_request=2, first_key=100)
    assert sequence.tolist() == [0, 100, 101, 1, 102, 103, 2, 3, 4]
    assert is_scan.tolist() == [s >= 100 for s in sequence.tolist()]
    assert np.array_equal(sequence[~is_scan], ranks)  # the regular requests are untouched, in order


def test_add_newcomers_requests_each_new_key_after_its_gaps():
    ranks = np.zeros(10, dtype=np.int64)
    sequence, is_new = add_newcomers(ranks, every=5, gaps=(2, 4), first_key=100)
    assert np.array_equal(sequence[~is_new], ranks)
    first = [int(np.flatnonzero(sequence == key)[0]) for key in (100, 101)]
    assert sequence[is_new].tolist() == [100, 100, 101, 100, 101]  # newcomer 1's third request is past the end
    assert first == [0, 7]  # newcomer 1 appears just before original request 5 (after newcomer 0's first two)
    assert np.bincount(sequence[is_new] - 100).tolist() == [3, 2]
