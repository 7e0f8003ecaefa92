"""Friendly errors: short messages, no traceback in Jupyter, validation helpers."""

from __future__ import annotations

import math

import pytest

from helpers.core.errors import FriendlyError, InvalidArgument, require_non_negative, require_positive


def test_friendly_errors_render_as_one_line():
    assert InvalidArgument("ttl_ms must be > 0, got -5.")._render_traceback_() == [
        "InvalidArgument: ttl_ms must be > 0, got -5."
    ]
    assert issubclass(InvalidArgument, ValueError) and issubclass(InvalidArgument, FriendlyError)


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, "3", None, True])
def test_require_non_negative_refuses(bad):
    with pytest.raises(InvalidArgument, match=r"^ttl_ms must be a number >= 0, got "):
        require_non_negative("ttl_ms", bad)


def test_require_positive():
    assert require_positive("ttl_ms", 5) == 5
    assert require_non_negative("ttl_ms", 0) == 0
    with pytest.raises(InvalidArgument, match=r"^ttl_ms must be > 0, got 0\.$"):
        require_positive("ttl_ms", 0)


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
