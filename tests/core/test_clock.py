"""The clock: the real one follows time, the fake one moves only when told, and waits are bounded by either."""

from __future__ import annotations

import threading
import time

import pytest

from helpers.core.clock import REAL_CLOCK, FakeClock
from helpers.core.errors import InvalidArgument


def test_the_real_clock_is_monotonic_and_sleeps():
    before = REAL_CLOCK.now()
    REAL_CLOCK.sleep(0.01)
    assert REAL_CLOCK.now() - before >= 0.01
    assert abs(REAL_CLOCK.wall() - time.time()) < 1.0


def test_the_fake_clock_moves_only_when_told():
    clock = FakeClock(start=5.0, start_wall=1000.0)
    assert (clock.now(), clock.wall()) == (5.0, 1000.0)
    clock.sleep(0.25)
    clock.advance(1.0)
    clock.sleep(-1.0)  # a negative sleep is asked for, recorded, and does not move the clock
    assert (clock.now(), clock.wall()) == (6.25, 1001.25)
    assert clock.sleeps == [0.25, -1.0]


def test_the_fake_clock_never_goes_back():
    with pytest.raises(InvalidArgument, match="only moves forward"):
        FakeClock().advance(-0.1)


def test_the_fake_clock_is_shared_safely_between_threads():
    clock = FakeClock(start=0.0)
    threads = [threading.Thread(target=lambda: [clock.sleep(0.001) for _ in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == pytest.approx(4.0)


def test_wait_for_returns_as_soon_as_ready():
    event = threading.Event()
    threading.Timer(0.01, event.set).start()
    assert REAL_CLOCK.wait_for(event.is_set, 30.0, event.wait)


def test_a_wait_times_out_on_the_fake_clock_not_on_real_time():
    """Real time passes (slices of real waiting) but the deadline is the fake clock's: it times out only when moved."""
    clock = FakeClock()
    never = threading.Event()
    slices: list[float] = []

    def block(seconds: float) -> None:
        slices.append(seconds)
        if len(slices) == 20:  # 20 real slices went by: now the fake clock passes the deadline
            clock.advance(10.0)
        never.wait(seconds)

    assert not clock.wait_for(never.is_set, 10.0, block)
    assert len(slices) == 20 and max(slices) <= FakeClock.wait_slice_s


def test_the_real_clock_waits_once_for_the_whole_time_left():
    slices: list[float] = []
    assert not REAL_CLOCK.wait_for(lambda: False, 0.02, lambda s: slices.append(s) or time.sleep(s))
    assert len(slices) == 1 and slices[0] <= 0.02
