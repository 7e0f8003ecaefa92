"""The one bisection: brackets to the last float, grows its first guess, refuses what has no answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.sim.solve import bisect_increasing


def test_brackets_the_crossing_to_adjacent_floats():
    below, above = bisect_increasing(lambda x: x * x, 2.0)
    assert below * below <= 2.0 < above * above
    assert np.nextafter(below, math.inf) == above
    assert below == pytest.approx(math.sqrt(2.0), rel=1e-15)


def test_grows_a_first_guess_that_is_too_small():
    below, above = bisect_increasing(lambda x: x, 1000.0, high=0.001)
    assert below == 1000.0 and above > 1000.0  # f(below) <= target: a flat-topped answer lands on the low side


def test_a_step_function_stops_at_its_edge():
    below, above = bisect_increasing(lambda x: float(x >= 0.3), 0.5)
    assert below < 0.3 <= above and above - below < 1e-15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"function": lambda x: x, "target": -1.0}, "already above the target"),
        ({"function": lambda x: 0.0, "target": 1.0}, "never exceeds the target"),
        ({"function": lambda x: x, "target": 1.0, "low": 2.0, "high": 1.0}, "must be above low"),
        ({"function": lambda x: x, "target": 1.0, "high": 0.0}, "high must be > 0"),
    ],
)
def test_refuses_what_has_no_answer(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        bisect_increasing(**kwargs)
