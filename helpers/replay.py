"""Replay a seeded schedule of requests in real time, so that real TTLs run out between them.

A schedule is a list of ``Event`` (when, which key, read or update), built from independent Poisson
streams, one per key (``poisson_events``). ``replay`` calls the notebook's own handler for each event at
its time and records what it returned and when it really ran: the caching code stays in the notebook,
this module only keeps the clock. On a busy machine a replay can fall behind its schedule; the lag is
reported so that a notebook can show it.

``share_with_error`` turns per-request outcomes (hit or miss, stale or fresh) into a share with a
standard error that respects that requests to the same key are not independent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from helpers.errors import InvalidArgument, require_non_negative, require_positive
from helpers.timing import LatencySummary, summarize

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
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    streams = [(READ, read_rates)] + ([(UPDATE, update_rates)] if update_rates is not None else [])
    for kind, rates in streams:
        for key, rate in enumerate(rates):
            require_non_negative(f"the {kind} rate of key {key}", rate)
            # A Poisson stream over [0, D): a Poisson number of events, each uniform over the interval.
            count = rng.poisson(rate * duration_s)
            events.extend(Event(float(at), key, kind) for at in rng.uniform(0.0, duration_s, count))
    events.sort(key=lambda event: (event.at_s, event.kind, event.key))
    return events


@dataclass(frozen=True)
class Replay(Generic[Result]):
    """What a replay did: each event, what its handler returned, and when it really ran (seconds after the start)."""

    events: list[Event]
    results: list[Result]
    ran_at_s: np.ndarray

    @property
    def lag(self) -> LatencySummary:
        """How late the events ran compared with their schedule, in milliseconds."""
        scheduled = np.array([event.at_s for event in self.events])
        return summarize(np.maximum(self.ran_at_s - scheduled, 0.0) * 1000.0)


def replay(events: Sequence[Event], handle: Callable[[Event], Result]) -> Replay[Result]:
    """Call ``handle(event)`` for each event at its scheduled time (or as soon as possible when late)."""
    if not events:
        raise InvalidArgument("replay() needs at least one event: build them with poisson_events(...).")
    results: list[Result] = []
    ran_at = np.empty(len(events))
    start = time.perf_counter()
    for index, event in enumerate(events):
        wait = start + event.at_s - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        ran_at[index] = time.perf_counter() - start
        results.append(handle(event))
    return Replay(list(events), results, ran_at)


def share_with_error(flags: Sequence[bool], clusters: Sequence[int]) -> tuple[float, float]:
    """The share of true ``flags`` and its standard error, treating requests of one cluster (key) as one sample."""
    values = np.asarray(flags, dtype=float)
    groups = np.asarray(clusters)
    if values.size == 0 or values.shape != groups.shape:
        raise InvalidArgument(
            f"share_with_error needs one cluster per flag and at least one flag; got {values.size} flags "
            f"and {groups.size} clusters."
        )
    share = float(values.mean())
    _, index = np.unique(groups, return_inverse=True)
    successes = np.bincount(index, weights=values)
    counts = np.bincount(index)
    if counts.size < 2:
        return share, float("nan")  # one cluster: no estimate of the spread between clusters
    # The ratio estimator's variance (delta method over independent clusters), with a small-sample correction.
    residual = successes - share * counts
    variance = counts.size / (counts.size - 1) * float(np.sum(residual**2)) / float(counts.sum()) ** 2
    return share, float(np.sqrt(variance))
