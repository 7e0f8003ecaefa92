"""What a herd run records and reports: each read, each database query, and the result's counts and table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from helpers.core.errors import InvalidArgument, require_positive
from helpers.core.timing import LatencySummary, summarize


@dataclass(frozen=True)
class ReadRecord:
    """One read by one client: when it started (seconds after the release), its latency, its outcome."""

    client: int
    start_s: float
    latency_ms: float
    value: object = None  # kept only when the run was asked to keep values
    stale: bool = False
    error: str | None = None  # the exception's type name, when the read raised
    redis_ms: float = 0.0  # how much of the latency was spent inside Redis commands

    @property
    def away_from_redis_ms(self) -> float:
        """The part of the latency spent outside Redis: querying the database, or waiting for someone who is."""
        return max(0.0, self.latency_ms - self.redis_ms)


@dataclass(frozen=True)
class QuerySpan:
    """One database query made during a run, in seconds after the release."""

    start_s: float
    end_s: float
    failed: bool = False

    @property
    def duration_ms(self) -> float:
        """How long the query took, in milliseconds."""
        return (self.end_s - self.start_s) * 1000.0


@dataclass(frozen=True)
class HerdResult:
    """Everything one herd run measured."""

    clients: int
    window_s: float
    expires_at_s: float | None  # the earliest the primed value can have expired, s after the release (None: no prime)
    reads: tuple[ReadRecord, ...]
    queries: tuple[QuerySpan, ...]  # database reads made during the run, by start time (for timelines)
    recomputations: int  # database reads started during the run, failed ones included
    hung_clients: int  # clients still inside a read when the deadline passed (a deadlock)
    errors_by_type: Mapping[str, int] = field(default_factory=dict)

    @property
    def read_count(self) -> int:
        """How many reads completed (with a value or an error)."""
        return len(self.reads)

    @property
    def errors(self) -> int:
        """Reads that raised instead of returning a value."""
        return sum(1 for read in self.reads if read.error is not None)

    @property
    def stale_reads(self) -> int:
        """Reads that returned the value from before the herd after that value's planned expiry (+2 ms)."""
        return sum(1 for read in self.reads if read.stale)

    @property
    def latency(self) -> LatencySummary:
        """Percentiles of the read latencies."""
        return summarize(read.latency_ms for read in self.reads)

    @property
    def reads_that_waited(self) -> int:
        """Reads that waited for a recomputation: in progress over the second half of a database query, and
        away from Redis (querying, sleeping between polls, waiting on another caller) for a tenth of one or more.

        Both conditions matter on a loaded machine: a hit slowed down by a busy server can span a query,
        but it spends its time inside Redis commands, so it is not taken for a wait; and a client that
        waits by polling a slow server still sleeps between its polls.
        """
        successful = [q for q in self.queries if not q.failed]
        if not successful:
            return 0
        middles = np.array([(q.start_s + q.end_s) / 2 for q in successful])
        ends = np.array([q.end_s for q in successful])
        least_away_ms = self.recompute_ms / 10
        return sum(
            1
            for read in self.reads
            if read.away_from_redis_ms >= least_away_ms
            and np.any((read.start_s <= middles) & (ends <= read.start_s + read.latency_ms / 1000))
        )

    @property
    def recompute_ms(self) -> float:
        """The mean duration of the run's successful database queries (nan when there were none)."""
        durations = [q.duration_ms for q in self.queries if not q.failed]
        return float(np.mean(durations)) if durations else float("nan")

    @property
    def read_rate_per_s(self) -> float:
        """Reads per second before the expiry (or over the whole window when nothing was primed)."""
        until = self.expires_at_s if self.expires_at_s else self.window_s
        started = sum(1 for read in self.reads if read.start_s < until)
        return started / until if until > 0 else float("nan")

    @property
    def refreshed_before_expiry(self) -> bool:
        """True when a recomputation finished before the primed value expired: no read could find it gone."""
        finished = [q.end_s for q in self.queries if not q.failed]
        return self.expires_at_s is not None and bool(finished) and min(finished) < self.expires_at_s

    @property
    def recomputations_after_expiry(self) -> int:
        """Queries that started after the primed value expired."""
        if self.expires_at_s is None:
            return len(self.queries)
        return sum(1 for q in self.queries if q.start_s >= self.expires_at_s)

    def in_flight(self, step_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Database queries in flight over time: (ms since the release, count), sampled every ``step_ms``."""
        require_positive("step_ms", step_ms)
        end_ms = max([self.window_s * 1000.0] + [q.end_s * 1000.0 for q in self.queries])
        times = np.arange(0.0, end_ms + step_ms, step_ms)
        counts = np.zeros_like(times)
        for query in self.queries:
            counts += (times >= query.start_s * 1000.0) & (times < query.end_s * 1000.0)
        return times, counts.astype(int)

    def row(self) -> dict[str, float | int]:
        """The headline numbers, for a table: recomputations, stale reads, latency, errors."""
        latency = self.latency if self.reads else None
        return {
            "reads": self.read_count,
            "recomputations": self.recomputations,
            "waited": self.reads_that_waited,
            "stale reads": self.stale_reads,
            "p50 ms": latency.p50_ms if latency else float("nan"),
            "p99 ms": latency.p99_ms if latency else float("nan"),
            "max ms": latency.max_ms if latency else float("nan"),
            "errors": self.errors,
            "stuck": self.hung_clients,
        }


def format_table(results: Mapping[str, HerdResult]) -> str:
    """A plain-text table with one row per named result (the headline numbers of ``HerdResult.row``)."""
    if not results:
        raise InvalidArgument("format_table() needs at least one result, e.g. {'naive': naive_result}.")
    rows = {name: result.row() for name, result in results.items()}
    columns = list(next(iter(rows.values())))
    widths = [max(len(column), 6) + 2 for column in columns]
    name_width = max(len("rung"), *(len(name) for name in rows))
    lines = [f"{'rung':<{name_width}}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))]
    for name, row in rows.items():
        cells = [
            f"{v:>{w}.1f}" if isinstance(v, float) else f"{v:>{w}d}" for v, w in zip(row.values(), widths, strict=True)
        ]
        lines.append(f"{name:<{name_width}}" + "".join(cells))
    return "\n".join(lines)


def value_time(value: object) -> float | None:
    """The ``computed_at`` field of a cached value (a dict), or None when it has none."""
    if isinstance(value, dict):
        stamp = value.get("computed_at")
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            return float(stamp)
    return None
