"""One clock for every harness: the real one, or a fake one a test moves by hand.

A harness asks its clock what time it is (``now()``, monotonic seconds; ``wall()``, Unix seconds) and
lets it ``sleep()``. Its deadlines and measurements therefore follow the clock it is given: the real
clock (``REAL_CLOCK``, the default everywhere) in a notebook, a ``FakeClock`` in a test, where time
only moves when a test or a harness's ``sleep()`` moves it, so the harness's timing decisions are the
same however loaded the machine is.

Threads that wait for each other still wait for real (on a condition or a join); ``wait_for`` bounds
such a wait by the clock's time: the real clock waits once, the fake clock waits in short real slices
and looks at its own time between them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from helpers.core.errors import InvalidArgument


class Clock:
    """The real clock: ``time.perf_counter``, ``time.sleep`` and ``time.time``."""

    wait_slice_s = math.inf  # a real wait can last as long as the time left

    def now(self) -> float:
        """Monotonic seconds (only differences mean something)."""
        return time.perf_counter()

    def wall(self) -> float:
        """Unix seconds, as ``time.time()``."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Pause the calling thread for ``seconds`` (nothing if it is not positive)."""
        if seconds > 0:
            time.sleep(seconds)

    def wait_for(self, ready: Callable[[], bool], timeout_s: float, block: Callable[[float], object]) -> bool:
        """Until ``ready()`` or ``timeout_s`` on this clock, call ``block(seconds)``, a real wait; return ``ready()``.

        ``block`` is what really waits: ``condition.wait`` (with the condition held) or ``thread.join``.
        """
        deadline = self.now() + timeout_s
        while not ready():
            left = deadline - self.now()
            if left <= 0:
                return ready()
            block(min(left, self.wait_slice_s))
        return True

    def __repr__(self) -> str:
        return "Clock()"


REAL_CLOCK = Clock()


class FakeClock(Clock):
    """A clock that moves only when told: by ``advance()``, or by ``sleep()``, which returns at once.

    Safe to share between threads. ``wall()`` is ``start_wall`` plus the fake seconds that have passed.
    """

    wait_slice_s = 0.005  # real seconds between two looks at the fake time while waiting

    def __init__(self, start: float = 1000.0, *, start_wall: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._start = float(start)
        self._start_wall = float(start_wall)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []  # every sleep asked for, in order

    def now(self) -> float:
        """The fake monotonic time."""
        with self._lock:
            return self._now

    def wall(self) -> float:
        """The fake Unix time."""
        with self._lock:
            return self._start_wall + self._now - self._start

    def sleep(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (if positive) and return at once."""
        with self._lock:
            self.sleeps.append(float(seconds))
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``, as if that much time had passed."""
        if not seconds >= 0:
            raise InvalidArgument(f"a clock only moves forward: advance() got {seconds!r}.")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now():g})"
