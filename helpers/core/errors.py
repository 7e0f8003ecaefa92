"""Short, actionable errors: what was wrong and how to fix it, without a page of traceback."""

from __future__ import annotations


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


def require_non_negative(name: str, value: float) -> float:
    """Return ``value`` if it is a number >= 0, else raise InvalidArgument naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise InvalidArgument(f"{name} must be a number >= 0, got {value!r}.")
    return value


def require_positive(name: str, value: float) -> float:
    """Return ``value`` if it is a number > 0, else raise InvalidArgument naming ``name``."""
    require_non_negative(name, value)
    if value == 0:
        raise InvalidArgument(f"{name} must be > 0, got {value!r}.")
    return value
