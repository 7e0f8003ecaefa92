"""Replay a seeded schedule of requests in real time, so that real TTLs run out between them.

A schedule is a list of ``Event`` (when, which key, read or update), built from independent Poisson
streams, one per key (``poisson_events``). ``replay_in_real_time`` calls the notebook's own handler for each event at
its time and records what it returned and when it really ran: the caching code stays in the notebook,
this module only keeps the clock. On a busy machine a replay can fall behind its schedule: it can then
skip the events it reaches too late (``skip_late_s``), and it reports what it skipped and how late the rest ran
(a ``TimedReplay``); ``replay_on_schedule`` starts again when it had to skip too many, since a starved
replay's bursty gaps are not the traffic a model describes. Time is read from the ``clock`` it is given
(``helpers.core.clock``, real by default).

``share_with_error`` turns per-request outcomes (hit or miss, stale or fresh) into a share with a
standard error that respects that requests to the same key are not independent; ``mean_with_error`` does
the same for any per-request number (a paired difference between two policies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np

from helpers.core.clock import REAL_CLOCK, Clock
from helpers.core.errors import InvalidArgument, require_non_negative, require_positive
from helpers.core.timing import LatencySummary, summarize
from helpers.core.workloads import poisson_arrivals

READ = "read"
UPDATE = "update"
Result = TypeVar("Result")


@dataclass(frozen=True)
class Event:
    """One request of a schedule: at ``at_s`` seconds after the start, a ``kind`` request for key number ``key``."""

    at_s: float
    key: int
    kind: str = READ


def poisson_events(
    read_rates: Sequence[float],
    duration_s: float,
    seed: int,
    *,
    update_rates: Sequence[float] | None = None,
) -> list[Event]:
    """Reads of key ``k`` at ``read_rates[k]`` per second (and updates at ``update_rates[k]``), merged in time order."""
    require_positive("duration_s", duration_s)
    if len(read_rates) == 0:
        raise InvalidArgument("read_rates needs one rate per key, e.g. [10.0] * 50.")
    if update_rates is not None and len(update_rates) != len(read_rates):
        raise InvalidArgument(
            f"update_rates needs one rate per key, like read_rates: got {len(update_rates)} for {len(read_rates)} keys."
        )
    rng = np.random.default_rng(seed)  # one generator: each key's stream is drawn from it in turn
    events: list[Event] = []
    streams = [(READ, read_rates)] + ([(UPDATE, update_rates)] if update_rates is not None else [])
    for kind, rates in streams:
        for key, rate in enumerate(rates):
            require_non_negative(f"the {kind} rate of key {key}", rate)
            events.extend(Event(float(at), key, kind) for at in poisson_arrivals(rate, duration_s, rng))
    events.sort(key=lambda event: (event.at_s, event.kind, event.key))
    return events


@dataclass(frozen=True)
class TimedReplay(Generic[Result]):
    """What a timed replay did: each event, what its handler returned (None if skipped), and when it really ran."""

    events: list[Event]
    results: list[Result | None]
    ran: np.ndarray  # one bool per event: False if it was skipped for being too late
    ran_at_s: np.ndarray  # seconds after the start (NaN for a skipped event)
    attempts: int = 1  # how many replays it took to keep the schedule (``replay_on_schedule``)

    @property
    def skipped(self) -> int:
        """How many events were skipped because the replay was running too late for them."""
        return int((~self.ran).sum())

    @property
    def skipped_share(self) -> float:
        """The share of the schedule that was skipped (0.0 when the replay kept up with every event)."""
        return self.skipped / len(self.events)

    @property
    def lag(self) -> LatencySummary:
        """How late the events that ran were, compared with their schedule, in milliseconds."""
        scheduled = np.array([event.at_s for event in self.events])[self.ran]
        return summarize(np.maximum(self.ran_at_s[self.ran] - scheduled, 0.0) * 1000.0)


def replay_in_real_time(
    events: Sequence[Event],
    handle: Callable[[Event], Result],
    *,
    skip_late_s: float | None = None,
    clock: Clock = REAL_CLOCK,
) -> TimedReplay[Result]:
    """Call ``handle(event)`` for each event at its scheduled time; with ``skip_late_s``, skip events later than that.

    Without ``skip_late_s`` a late replay runs the events it owes back to back, which squeezes their gaps
    together. With it, events that the replay reaches too late are left out (a gap in the traffic, as when a
    client pauses), so the events that do run keep their scheduled spacing. Either way, ``TimedReplay`` records
    what ran and when.
    """
    if not events:
        raise InvalidArgument("replay_in_real_time() needs at least one event: build them with poisson_events(...).")
    if skip_late_s is not None:
        require_positive("skip_late_s", skip_late_s)
    results: list[Result | None] = []
    ran = np.ones(len(events), dtype=bool)
    ran_at = np.full(len(events), np.nan)
    start = clock.now()
    for index, event in enumerate(events):
        wait = start + event.at_s - clock.now()
        if wait > 0:
            clock.sleep(wait)
        elif skip_late_s is not None and -wait > skip_late_s:
            ran[index] = False
            results.append(None)
            continue
        ran_at[index] = clock.now() - start
        results.append(handle(event))
    return TimedReplay(list(events), results, ran, ran_at)


def replay_on_schedule(
    events: Sequence[Event],
    handle: Callable[[Event], Result],
    *,
    reset: Callable[[], object],
    skip_late_s: float = 0.005,
    max_skipped_share: float = 0.7,
    attempts: int = 3,
    clock: Clock = REAL_CLOCK,
) -> TimedReplay[Result]:
    """Replay until at most ``max_skipped_share`` of the events had to be skipped, ``reset()`` before each try.

    A machine too busy to keep the schedule does not produce the traffic the models describe (its skips come
    in bursts), so its run is not measured: the replay starts again from a clean cache, at most ``attempts``
    times. If no attempt kept the schedule, it raises ``MachineTooBusy`` with what it saw.
    """
    require_positive("attempts", attempts)
    if not 0 < max_skipped_share < 1:
        raise InvalidArgument(f"max_skipped_share is a share of the events, between 0 and 1; got {max_skipped_share}.")
    shares = []
    for attempt in range(1, attempts + 1):
        reset()
        run = replay_in_real_time(events, handle, skip_late_s=skip_late_s, clock=clock)
        if run.skipped_share <= max_skipped_share:
            return replace(run, attempts=attempt)
        shares.append(f"{run.skipped_share:.0%}")
    raise MachineTooBusy(
        f"The machine was too busy to replay the schedule in real time: {attempts} attempts skipped "
        f"{', '.join(shares)} of the requests (at most {max_skipped_share:.0%} is measured). "
        "Close other programs (or wait for a quieter moment) and run the cell again."
    )


class MachineTooBusy(RuntimeError):
    """No replay kept its schedule: the machine was too busy for a real-time measurement."""


def share_with_error(flags: Sequence[bool], clusters: Sequence[int]) -> tuple[float, float]:
    """The share of true ``flags`` and its standard error, treating requests of one cluster (key) as one sample."""
    return mean_with_error(np.asarray(flags, dtype=float), clusters)


def mean_with_error(values: Sequence[float], clusters: Sequence[int]) -> tuple[float, float]:
    """The mean of per-request ``values`` and its standard error, treating requests of one cluster as one sample.

    A paired difference (``1`` where only sliding hit, ``-1`` where only fixed hit) has a much smaller error
    than the two shares it compares, because both policies saw the very same reads.
    """
    numbers = np.asarray(values, dtype=float)
    groups = np.asarray(clusters)
    if numbers.size == 0 or numbers.shape != groups.shape:
        raise InvalidArgument(
            f"mean_with_error needs one cluster per value and at least one value; got {numbers.size} values "
            f"and {groups.size} clusters."
        )
    mean = float(numbers.mean())
    _, index = np.unique(groups, return_inverse=True)
    sums = np.bincount(index, weights=numbers)
    counts = np.bincount(index)
    if counts.size < 2:
        return mean, float("nan")  # one cluster: no estimate of the spread between clusters
    # The ratio estimator's variance (delta method over independent clusters), with a small-sample correction.
    residual = sums - mean * counts
    variance = counts.size / (counts.size - 1) * float(np.sum(residual**2)) / float(counts.sum()) ** 2
    return mean, float(np.sqrt(variance))
