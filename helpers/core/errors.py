"""Short, actionable errors: what was wrong and how to fix it, without a page of traceback."""

from __future__ import annotations

import numbers

import numpy as np


class FriendlyError(Exception):
    """An error whose message already says what went wrong and how to fix it.

    In Jupyter, IPython calls ``_render_traceback_`` instead of printing the whole traceback,
    so a learner sees the message alone. Outside Jupyter it behaves like any exception.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class InvalidArgument(FriendlyError, ValueError):
    """A helper was called with a value it cannot use (a negative TTL, an unknown policy, ...)."""


class RedisUnavailable(FriendlyError, ConnectionError):
    """The Redis server named by REDIS_URL cannot be reached or is not a Redis server."""


class RedisServerNotFound(FriendlyError, FileNotFoundError):
    """No ``redis-server`` binary was found to start a sandbox server."""


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, np.bool_))


def require_non_negative(name: str, value: float) -> float:
    """Return ``value`` if it is a number >= 0 (Python or numpy), else raise InvalidArgument naming ``name``."""
    if _is_bool(value) or not isinstance(value, numbers.Real) or value != value or value < 0:
        raise InvalidArgument(f"{name} must be a number >= 0, got {value!r}.")
    return value


def require_positive(name: str, value: float) -> float:
    """Return ``value`` if it is a number > 0 (Python or numpy), else raise InvalidArgument naming ``name``."""
    require_non_negative(name, value)
    if value == 0:
        raise InvalidArgument(f"{name} must be > 0, got {value!r}.")
    return value


def is_whole(value: object, *, minimum: int = 0, maximum: int | None = None) -> bool:
    """True if ``value`` is a Python or numpy integer (not a bool) from ``minimum`` to ``maximum`` (if given)."""
    if _is_bool(value) or not isinstance(value, (int, np.integer)):
        return False
    return value >= minimum and (maximum is None or value <= maximum)


def require_whole(name: str, value: int, *, minimum: int = 0, maximum: int | None = None, unit: str = "") -> int:
    """``value`` as an ``int`` if it is a whole number (Python or numpy) in range, else raise InvalidArgument.

    Bools, floats (even 3.0), strings and None are refused: the message says which range to pass, and
    ``unit`` (e.g. ``"of objects"``) says what the number counts.
    """
    if is_whole(value, minimum=minimum, maximum=maximum):
        return int(value)
    wanted = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    counts = f" {unit}" if unit else ""
    hint = ""
    if isinstance(value, float) and value.is_integer():
        hint = f" (pass {int(value)}, not {value!r})"
    raise InvalidArgument(f"{name} must be a whole number{counts} {wanted}, got {value!r}{hint}.")
