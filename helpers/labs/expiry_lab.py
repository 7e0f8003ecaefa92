"""Watch expired keys leave memory: choose a server that shows it, then sample DBSIZE and INFO over time.

Only a real server has an active expire cycle and INFO's ``expired_keys`` counter. Both DBSIZE and
``expired_keys`` count every key on the server, so they only measure this notebook on a server nobody
else writes to. ``ExpiryLab(r)`` is a ``labs.base.Lab``: its ``start()`` measures on a private
``SandboxRedis`` when a redis-server binary is found (started then, stopped by ``close()``; never
polluted by a room of learners sharing ``r``), else on ``r`` itself when it is a real server, else on
``r`` (fakeredis) with that said plainly: fakeredis has no active cycle and no INFO, and hides an
expired key as soon as it is looked at, so its DBSIZE never counts expired keys.

Sampling only reads DBSIZE and INFO, which touch no key, so it does not expire anything by itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import redis

from helpers.core.backend import backend_info, connect
from helpers.core.capabilities import capabilities
from helpers.core.errors import InvalidArgument, RedisServerNotFound, require_positive
from helpers.core.sandbox import SandboxRedis, find_redis_server
from helpers.labs.base import SANDBOX, Lab

CONNECTED = "connected"  # the notebook's own server (REDIS_URL)
FAKEREDIS = "fakeredis"  # no real server available


@dataclass(frozen=True)
class KeyspaceSample:
    """One look at the server: keys in memory (DBSIZE), INFO expired_keys (None without INFO), and when."""

    at_s: float  # seconds since the start, on this process's clock
    server_s: float  # the server's own clock (TIME), in seconds: what its TTLs are measured against
    dbsize: int
    expired_keys: int | None


class BatchLook(NamedTuple):
    """One look at a batch of short-lived keys, in the terms the notebook plots."""

    since_written_s: float  # seconds since the batch was written (server clock)
    lingering: int  # keys of the batch past their TTL but still in memory
    deleted: int | None  # INFO expired_keys since the baseline (None without INFO)


def past_ttl_in_memory(
    samples: Sequence[KeyspaceSample],
    baseline: KeyspaceSample,
    *,
    batch_size: int,
    other_keys: int,
    deadlines: tuple[float, float],
    ttl_ms: int,
) -> list[BatchLook]:
    """How many of a batch's keys linger past their TTL at each sample (samples taken while it expires are skipped).

    ``baseline`` is a sample taken before anything was written; ``other_keys`` were written after it and are
    still alive; ``deadlines`` are when the batch's first and last keys expire (server clock, from ``load``).
    """
    first, last = deadlines
    written = first - ttl_ms / 1000
    looks = []
    for sample in samples:
        if first <= sample.server_s <= last + 0.001:
            continue  # the batch is expiring right now: neither all alive nor all dead
        alive = batch_size if sample.server_s < first else 0
        deleted = None
        if sample.expired_keys is not None and baseline.expired_keys is not None:
            deleted = sample.expired_keys - baseline.expired_keys
        in_memory = sample.dbsize - baseline.dbsize
        looks.append(BatchLook(sample.server_s - written, in_memory - other_keys - alive, deleted))
    return looks


class ExpiryLab(Lab):
    """Where to watch keys die: a private sandbox, else ``r`` if it is a real server, else fakeredis (labelled)."""

    KINDS = (CONNECTED, SANDBOX, FAKEREDIS)
    START_HINT = "lab.start()"

    def __init__(self, r: redis.Redis, *, use_sandbox: bool = True) -> None:
        super().__init__()
        self._r = r
        self._use_sandbox = use_sandbox
        self._sandbox: SandboxRedis | None = None

    def _open(self) -> None:
        """A private sandbox if a binary is found, else ``r`` if it has INFO (a real server), else ``r`` (fakeredis)."""
        r = self._r
        if self._use_sandbox:
            try:
                self._sandbox = SandboxRedis(binary=find_redis_server()).start()
            except RedisServerNotFound:
                self._sandbox = None
        if self._sandbox is not None:
            self.client, self.kind = connect(self._sandbox.url, announce=False), SANDBOX
        elif capabilities(r).info:
            self.client, self.kind = r, CONNECTED
        else:
            self.client, self.kind = r, FAKEREDIS
        self.label = backend_info(self.client).label  # 'Redis 7.0.15' or 'fakeredis 2.41.0'

    @property
    def is_real(self) -> bool:
        """True when the measurement runs on a real redis-server (with an active expire cycle and INFO)."""
        return self.kind in (CONNECTED, SANDBOX)

    def describe(self) -> str:
        """One sentence: which server the measurement runs on, and why."""
        if self.kind == CONNECTED:
            return f"Measuring on {self.label}, the server this notebook is connected to."
        if self.kind == SANDBOX:
            return (
                f"Measuring on a private redis-server ({self.label}) started for this section: DBSIZE and INFO "
                "count every key on a server, so only a server of its own measures this notebook alone (and "
                "fakeredis has no active expire cycle and no INFO). It is stopped at the end of the section."
            )
        if self.kind == FAKEREDIS:
            return (
                f"No redis-server was found, so this runs on {self.label}. It has no active expire cycle and no "
                "INFO: it hides an expired key as soon as it is looked at, and its DBSIZE never counts expired keys."
            )
        return "The expiry lab is not started yet: `lab.start()` chooses the server."

    def sample(self, start: float) -> KeyspaceSample:
        """DBSIZE, INFO expired_keys and TIME in one round trip; ``start`` (a perf_counter() value) counts as 0."""
        with self._require().pipeline(transaction=False) as pipe:
            pipe.time().dbsize()
            if self.is_real:
                pipe.info("stats")
            (seconds, micros), dbsize, *stats = pipe.execute()
        expired = int(stats[0]["expired_keys"]) if stats else None
        return KeyspaceSample(time.perf_counter() - start, seconds + micros / 1e6, int(dbsize), expired)

    def load(self, names: Sequence[str], ttl_ms: int) -> tuple[float, float]:
        """Write each key with a TTL in one round trip; return when the first and the last expire (server clock, s)."""
        if not names:
            raise InvalidArgument("load() needs at least one key name.")
        require_positive("ttl_ms", ttl_ms)
        with self._require().pipeline(transaction=False) as pipe:
            for name in names:
                pipe.set(name, "x", px=ttl_ms)
            pipe.time().pttl(names[0]).pttl(names[-1])  # the server's clock, and what the two keys have left
            *_, (seconds, micros), first_left_ms, last_left_ms = pipe.execute()
        now_s = seconds + micros / 1e6
        return now_s + first_left_ms / 1000, now_s + last_left_ms / 1000

    def watch(
        self,
        start: float,
        until_s: float,
        every_s: float = 0.05,
        *,
        stop_when: Callable[[KeyspaceSample], bool] | None = None,
    ) -> list[KeyspaceSample]:
        """Samples every ``every_s`` s until ``until_s`` s after ``start``, or until ``stop_when(sample)`` is true."""
        require_positive("every_s", every_s)
        if every_s > until_s:
            raise InvalidArgument(f"every_s ({every_s}) must be shorter than until_s ({until_s}).")
        samples = [self.sample(start)]
        while samples[-1].at_s + every_s <= until_s and not (stop_when and stop_when(samples[-1])):
            next_at = start + samples[-1].at_s + every_s
            time.sleep(max(0.0, next_at - time.perf_counter()))
            samples.append(self.sample(start))
        return samples

    def _shut(self) -> None:
        """Stop the private sandbox, if one was started (the notebook's own server is left alone)."""
        if self._sandbox is not None:
            self.client.close()
            self._sandbox.stop()
            self._sandbox = None
