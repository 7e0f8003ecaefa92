"""Seeded request streams."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.workloads import poisson_arrivals, zipf_popularity, zipf_requests


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


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: zipf_popularity(0, 1.0), "n_keys must be"),
        (lambda: zipf_popularity(10, -1.0), "skew must be"),
        (lambda: zipf_requests(10, 1.0, -5, seed=0), "n_requests must be"),
        (lambda: poisson_arrivals(0, 1.0, seed=0), "rate_per_s must be > 0"),
        (lambda: poisson_arrivals(1.0, -1.0, seed=0), "duration_s must be"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()
