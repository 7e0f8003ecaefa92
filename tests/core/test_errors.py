"""Friendly errors: short messages, no traceback in Jupyter, validation helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.core.errors import FriendlyError, InvalidArgument, require_non_negative, require_positive, require_whole


def test_friendly_errors_render_as_one_line():
    assert InvalidArgument("ttl_ms must be > 0, got -5.")._render_traceback_() == [
        "InvalidArgument: ttl_ms must be > 0, got -5."
    ]
    assert issubclass(InvalidArgument, ValueError) and issubclass(InvalidArgument, FriendlyError)


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, "3", None, True, np.bool_(True), np.float64(-2.0)])
def test_require_non_negative_refuses(bad):
    with pytest.raises(InvalidArgument, match=r"^ttl_ms must be a number >= 0, got "):
        require_non_negative("ttl_ms", bad)


def test_require_positive():
    assert require_positive("ttl_ms", 5) == 5
    assert require_non_negative("ttl_ms", 0) == 0
    with pytest.raises(InvalidArgument, match=r"^ttl_ms must be > 0, got 0\.$"):
        require_positive("ttl_ms", 0)


def test_numpy_numbers_are_numbers():
    assert require_positive("rate", np.float64(2.5)) == 2.5
    assert require_non_negative("count", np.int64(0)) == 0
    with pytest.raises(InvalidArgument, match=r"^rate must be > 0, got "):
        require_positive("rate", np.float32(0.0))


@pytest.mark.parametrize("good", [0, 7, np.int64(7), np.int32(7), np.uint8(7)])
def test_require_whole_accepts_python_and_numpy_integers(good):
    value = require_whole("n", good)
    assert value == int(good) and type(value) is int


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (True, r"^n must be a whole number >= 1, got True\.$"),
        (np.bool_(False), r"^n must be a whole number >= 1, got "),
        (3.0, r"^n must be a whole number >= 1, got 3\.0 \(pass 3, not 3\.0\)\.$"),
        (2.5, r"^n must be a whole number >= 1, got 2\.5\.$"),
        (None, r"^n must be a whole number >= 1, got None\.$"),
        ("3", r"^n must be a whole number >= 1, got '3'\.$"),
        (0, r"^n must be a whole number >= 1, got 0\.$"),
        (np.int64(-4), r"^n must be a whole number >= 1, got "),
    ],
)
def test_require_whole_refuses(bad, message):
    with pytest.raises(InvalidArgument, match=message):
        require_whole("n", bad, minimum=1)


def test_require_whole_range_and_unit_in_the_message():
    assert require_whole("samples", 64, minimum=1, maximum=64) == 64
    with pytest.raises(InvalidArgument, match=r"^samples must be a whole number from 1 to 64, got 65\.$"):
        require_whole("samples", 65, minimum=1, maximum=64)
    with pytest.raises(InvalidArgument, match=r"^capacity must be a whole number of objects >= 1, got 0\.$"):
        require_whole("capacity", 0, minimum=1, unit="of objects")


def test_a_notebook_shows_one_line_not_a_traceback():
    """In a real kernel, an unreachable REDIS_URL shows the message and the fix, not a socket traceback."""
    import nbformat
    from nbclient import NotebookClient
    from notebook_series import KERNEL_NAME

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("from helpers.core.backend import connect\nr = connect('redis://127.0.0.1:1/0')")
        ]
    )
    NotebookClient(nb, timeout=60, kernel_name=KERNEL_NAME, allow_errors=True).execute()
    (error,) = nb.cells[0].outputs
    assert error.output_type == "error" and error.ename == "RedisUnavailable"
    assert error.traceback == [f"RedisUnavailable: {error.evalue}"]
    assert "docker compose up -d redis" in error.evalue
