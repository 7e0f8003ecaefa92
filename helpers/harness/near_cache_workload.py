"""One seeded read/write workload through several read paths: latency, Redis reads and stale reads, in a table.

Instance A reads keys through the read path being measured; instance B writes new versions
straight to Redis. Values are ``"v<version>"``, so a read is **stale** when it returns an older
version than B's last write of that key, which had already returned (the workload runs on one
thread, so "already returned" is exact). Redis reads are counted by the server itself (``INFO
commandstats``: GET and MGET calls) when it can, else by the read path's own counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import redis

from helpers.core.errors import InvalidArgument
from helpers.core.timing import LatencySummary, summarize
from helpers.core.workloads import zipf_requests

READ, WRITE = "read", "write"


@dataclass(frozen=True)
class Operation:
    """One request of the workload: A reads, or B writes, key number ``key``."""

    kind: str
    key: int


def near_cache_workload(n_ops: int, n_keys: int, write_share: float, seed: int) -> list[Operation]:
    """``n_ops`` seeded operations on ``n_keys`` keys (Zipf 1.0 popularity), ``write_share`` of them writes."""
    if not 0 <= write_share < 1:
        raise InvalidArgument(f"write_share must be in [0, 1), got {write_share!r}.")
    ranks = zipf_requests(n_keys, 1.0, n_ops, seed)
    kinds = np.random.default_rng(seed + 1).random(n_ops) < write_share
    return [Operation(WRITE if is_write else READ, int(rank)) for rank, is_write in zip(ranks, kinds, strict=True)]


@dataclass
class WorkloadResult:
    """What one read path did with the workload."""

    strategy: str
    reads: int
    redis_reads: int
    stale_reads: int
    latencies_ms: list[float] = field(repr=False, default_factory=list)

    @property
    def reads_saved(self) -> int:
        """Reads that never reached Redis."""
        return self.reads - self.redis_reads

    @property
    def latency(self) -> LatencySummary:
        """Percentiles of A's read latency."""
        return summarize(self.latencies_ms)


def server_read_calls(client: redis.Redis) -> Callable[[], int] | None:
    """A counter of the GET and MGET calls the server has run (INFO commandstats), or None without INFO."""
    try:
        client.info("commandstats")
    except (redis.ResponseError, NotImplementedError, KeyError):
        return None

    def calls() -> int:
        stats = client.info("commandstats")
        return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_get", "cmdstat_mget"))

    return calls


def run_workload(
    strategy: str,
    read: Callable[[str], str | None],
    write: Callable[[str, str], object],
    operations: Sequence[Operation],
    key_names: Sequence[str],
    *,
    redis_reads: Callable[[], int],
) -> WorkloadResult:
    """Run ``operations``: B's writes through ``write(key, value)``, A's reads through ``read(key)``, timed."""
    version = dict.fromkeys(range(len(key_names)), 1)
    before = redis_reads()
    latencies, stale = [], 0
    for op in operations:
        name = key_names[op.key]
        if op.kind == WRITE:
            version[op.key] += 1
            write(name, f"v{version[op.key]}")
            continue
        start = time.perf_counter()
        value = read(name)
        latencies.append((time.perf_counter() - start) * 1000.0)
        if value != f"v{version[op.key]}":
            stale += 1
    return WorkloadResult(strategy, len(latencies), redis_reads() - before, stale, latencies)


def format_table(results: Sequence[WorkloadResult]) -> str:
    """The results as a fixed-width table: median and p99 read latency, Redis reads saved, stale reads."""
    lines = [f"{'read path':<26}{'median read':>13}{'p99 read':>11}{'Redis reads':>13}{'saved':>8}{'stale reads':>13}"]
    for result in results:
        summary = result.latency
        lines.append(
            f"{result.strategy:<26}{summary.p50_ms * 1000:>10.1f} µs{summary.p99_ms * 1000:>8.1f} µs"
            f"{result.redis_reads:>13}{result.reads_saved / result.reads:>8.0%}{result.stale_reads:>13}"
        )
    return "\n".join(lines)
