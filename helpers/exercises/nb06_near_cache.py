"""Notebook 06's checkers: stage the crossing race (06.1), then guard a batched near-cache read against it (06.2).

Both replay the race with ``helpers.harness.near_cache_race`` on a private redis-server of their own
(started and stopped inside the check), or, without a redis-server binary, on the simulated wire.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from helpers.core.sandbox import SandboxRedis
from helpers.exercises.framework import checker, expect
from helpers.harness import near_cache_race as race
from helpers.harness.tracking import start_tracking_server

BATCH = ("rcp:06:check:a", "rcp:06:check:b", "rcp:06:check:c")
CHANGED = BATCH[1]  # the key the writer changes while the batch read is on the wire
SINGLE = "rcp:06:check:profile"


class ReferenceNearCache:
    """The checkers' near cache: a dict with a local TTL, a guarded ``get`` and the tracking handler."""

    def __init__(self, redis_client: object, ttl_s: float = 60.0) -> None:
        self.redis = redis_client
        self.ttl_s = ttl_s
        self.clock = time.monotonic
        self.local: dict[str, object] = {}

    def get(self, key: str) -> object:
        """A local hit, or a guarded read from Redis (a marker first; stored only if the marker survived)."""
        entry = self.local.get(key)
        if isinstance(entry, tuple) and entry[1] > self.clock():
            return entry[0]
        marker = object()
        self.local[key] = marker
        value = self.redis.get(key)
        if self.local.get(key) is marker:
            self.local[key] = (value, self.clock() + self.ttl_s)
        return value

    def invalidate(self, keys: list[str] | None) -> None:
        """The tracking handler: forget the keys named (None: everything)."""
        if keys is None:
            self.local.clear()
            return
        for key in keys:
            self.local.pop(key, None)


class UnguardedNearCache(ReferenceNearCache):
    """The naive near cache of section 1: it stores whatever reply arrives."""

    def get(self, key: str) -> object:
        """A local hit, or a read from Redis whose reply is stored unconditionally."""
        entry = self.local.get(key)
        if isinstance(entry, tuple) and entry[1] > self.clock():
            return entry[0]
        value = self.redis.get(key)
        self.local[key] = (value, self.clock() + self.ttl_s)
        return value


@contextmanager
def _tracking_url() -> Iterator[str | None]:
    server: SandboxRedis | None = start_tracking_server()
    try:
        yield server.url if server is not None else None
    finally:
        if server is not None:
            server.stop()


# -- 06.1 · stage the race -------------------------------------------------------------------------------
@checker("06.1")
def check_crossing_schedule(stage_the_race: Callable[[], Sequence[str]]) -> str:
    """Replay the learner's order of the four steps against the unguarded near cache; require a stale read."""
    schedule = list(stage_the_race())
    expect(
        sorted(schedule) == sorted(race.STEPS),
        f"the schedule {schedule!r} does not hold each of the four steps exactly once.",
        "Return a list of SEND, WRITE, DELIVER and RECEIVE, each once, in the order you want them to happen.",
    )
    expect(
        schedule.index(race.SEND) < schedule.index(race.RECEIVE),
        "the reader receives its reply before it has sent its read.",
        "SEND must come before RECEIVE.",
    )
    expect(
        schedule.index(race.WRITE) > schedule.index(race.SEND),
        "the writer changes the key before the reader reads it, so the reply already carries the new value.",
        "Let the reader send its read first: the server must answer with the old value.",
    )
    expect(
        schedule.index(race.DELIVER) > schedule.index(race.WRITE),
        "the listener delivers before the writer has written: there is nothing to deliver yet.",
        "The invalidation exists only after the write: put DELIVER after WRITE.",
    )
    with _tracking_url() as url:
        replayed = race.stage_crossing(
            UnguardedNearCache, lambda near: near.get(SINGLE), schedule, url=url, keys=[SINGLE], written_key=SINGLE
        )
    expect(
        replayed.stale_reads_after > 0,
        "the invalidation removed the reply's value: the near cache stayed fresh in this order.",
        "Make the invalidation arrive while the old reply is still on the wire: DELIVER before RECEIVE.",
    )
    return (
        f"the reply carrying the old value arrived after the invalidation, so the unguarded near cache kept it: "
        f"{replayed.stale_reads_after} stale reads after the invalidation ({replayed.where})."
    )


# -- 06.2 · guard a batched read ---------------------------------------------------------------------------
@checker("06.2")
def check_get_many(get_many: Callable[[object, list[str]], list]) -> str:
    """Replay a batch read alone and crossed by an invalidation of one key; require guarded, per-key caching."""
    crossing = [race.SEND, race.WRITE, race.DELIVER, race.RECEIVE]
    quiet = [race.SEND, race.RECEIVE, race.WRITE, race.DELIVER]
    with _tracking_url() as url:
        alone, crossed = (
            race.stage_crossing(
                ReferenceNearCache,
                lambda near: get_many(near, list(BATCH)),
                schedule,
                url=url,
                keys=BATCH,
                written_key=CHANGED,
            )
            for schedule in (quiet, crossing)
        )
    for replayed in (alone, crossed):
        expect(
            replayed.read_command.startswith("MGET") and len(replayed.read_command.split()) == len(BATCH) + 1,
            f"the first read sent to Redis was {replayed.read_command!r}, not one MGET of the three keys.",
            "Read every key in one round trip: values = near.redis.mget(keys).",
        )
        expect(
            list(replayed.returned or []) == ["v1", "v1", "v1"],
            f"get_many returned {replayed.returned!r}; the server answered ['v1', 'v1', 'v1'].",
            "Return the values the MGET returned, in the order of the keys (never a marker).",
        )
    expect(
        alone.redis_reads_after == 1,
        f"with no race, {alone.redis_reads_after} of the reads that followed went to Redis, not only the one for the "
        "changed key: get_many did not keep the values it read.",
        "Store each value whose marker is still in place: near.local[key] = (value, near.clock() + near.ttl_s).",
    )
    at_send = crossed.steps[0].local_after
    expect(
        crossed.stale_reads_after == 0,
        f"{crossed.stale_reads_after} reads after the invalidation returned the old value of {CHANGED!r}"
        + (
            ": when the MGET was sent, near.local held no marker for it."
            if at_send != "being fetched"
            else ": the reply was stored although the invalidation had removed the marker."
        ),
        "Before the MGET, put a fresh marker (marker = object()) in near.local for each key; after it, store a value "
        "only where near.local[key] is still that marker.",
    )
    expect(
        crossed.redis_reads_after == 1,
        f"after the race, {crossed.redis_reads_after} reads went to Redis: keys the invalidation did not name were "
        "not kept.",
        "Check each key's own marker: the invalidation named only one key, so the other two should be stored.",
    )
    return (
        "one MGET, a marker per key: the invalidated key was dropped and read fresh, the other two stayed cached "
        f"({crossed.where})."
    )
