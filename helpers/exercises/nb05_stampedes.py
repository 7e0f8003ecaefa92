"""Notebook 05's checkers: a lock-protected fill, run in real herds (expiry, crashed holder, own lock only),
and XFetch with a refresh lock, replayed read by read on a virtual clock (05.2)."""

from __future__ import annotations

import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Callable

import redis

from helpers.core.backend import new_connection
from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.framework import checker, expect
from helpers.harness.herd import Herd, Read
from helpers.harness.herd_results import HerdResult
from helpers.harness.intercept import Command, CommandHook, intercept

# -- 05 · Your turn: a lock-protected fill -----------------------------------------------------------
EXERCISE_TTL_MS = 10_000
CRASHED_LOCK_TTL_MS = 1000  # a crashed holder's lock: long enough for a loaded machine to start every client
CRASHED_TOKEN = "crashed-holder"
HERD_ATTEMPTS = 3  # herds run before a machine too busy to test a situation is reported (never passed)
EXPIRY_SLACK_MS = 2  # Redis expires a key within about a millisecond of its TTL
EXERCISE_USER = 7

LockProtectedFill = Callable[[redis.Redis, str, Callable[[], object], int], object]


@checker("05.1")
def check_lock_protected_fill(
    get_or_compute: LockProtectedFill,
    cache: redis.Redis,
    db: PrimaryDatabase,
    keys: KeySpace,
    *,
    clients: int = 50,
) -> str:
    """Check ``get_or_compute(conn, key, compute, ttl_ms)``: one computation per herd, no deadlock, own lock only."""
    key = keys.key("exercise", "report")
    lock_key = key + ":lock"
    computed: list[dict] = []  # list.append is atomic: safe from many threads
    computed_when: list[float] = []  # time.perf_counter() of each computation

    def compute() -> dict:
        value = {"user": db.get_user(EXERCISE_USER), "computed_at": time.time()}
        computed.append(value)
        computed_when.append(time.perf_counter())
        return value

    locks = _LockWatch(lock_key, fair_ttl_s=max(0.1, 3 * db.delay_ms / 1000.0))

    def call(conn: redis.Redis) -> object:
        return get_or_compute(conn, key, compute, EXERCISE_TTL_MS)

    def herd_call(conn: redis.Redis) -> object:  # only the herd's own connections are watched, never `cache`
        return call(locks.watch(conn))

    def expired_key_herd() -> HerdResult:
        cache.delete(key)
        computed.clear()
        locks.taken.clear()
        return herd.run(herd_call, reads_per_client=1, keep_values=True)

    cache.delete(key, lock_key)
    try:
        _check_one_caller(call, cache, key, lock_key, computed)
        herd = Herd(cache, db, clients=clients, think_ms=5.0, life_ms=0.0, window_ms=500.0, timeout_s=3.0, seed=5)
        expired = _run_until_fair(expired_key_herd, lambda: locks.stalled_holder(len(computed)), "an expired key")
        _check_herd(expired, computed, "an expired key", clients)
        _check_crashed_holder(herd, herd_call, cache, (key, lock_key), (computed, computed_when), locks, clients)
        _check_own_lock_only(get_or_compute, cache, db, key, lock_key)
    finally:
        cache.delete(key, lock_key)
    return (
        f"{clients} clients on an expired key caused exactly one computation and all got its value; a crashed "
        f"holder's lock only delayed them until its TTL; and your release left another client's lock alone."
    )


def _check_one_caller(call: Read, cache: redis.Redis, key: str, lock_key: str, computed: list[dict]) -> None:
    """A cold key: one call computes, stores JSON with a TTL, releases the lock; a second call is a hit."""
    value = call(cache)
    expect(
        len(computed) == 1,
        f"one call on an empty key ran compute() {len(computed)} times, expected once.",
        "On a miss, the client holding the lock calls compute() once and stores its result.",
    )
    expect(
        value == computed[0],
        f"get_or_compute returned {value!r:.80}, not the value compute() returned.",
        "Return the value you computed (or, on a hit, json.loads of the cached string).",
    )
    stored = cache.get(key)
    expect(stored is not None, f"nothing was stored under {key!r} after a miss.", "SET the key after compute().")
    try:
        decoded = json.loads(stored)
    except ValueError:
        decoded = None
    expect(
        decoded == value,
        f"{key!r} holds {stored!r:.80}, not the JSON of the computed value.",
        "Store json.dumps(value) under the key, and json.loads it on a hit.",
    )
    ttl = cache.pttl(key)
    expect(
        0 < ttl <= EXERCISE_TTL_MS,
        f"{key!r} has a PTTL of {ttl} ms; expected a TTL of at most ttl_ms = {EXERCISE_TTL_MS} ms.",
        "Pass px=ttl_ms when you SET the value, so the cached value expires.",
    )
    expect(
        not cache.exists(lock_key),
        f"the lock {lock_key!r} is still there after the value was stored.",
        "Release the lock when you are done, in a `finally:` block, with release_lock(keys=[lock_key], ...).",
    )
    again = call(cache)
    expect(
        len(computed) == 1 and again == value,
        "a second call on the cached key ran compute() again."
        if len(computed) > 1
        else "a hit returned another value.",
        "Read the key first and return json.loads(cached) when it is there.",
    )


def _check_herd(result: HerdResult, computed: list[dict], situation: str, clients: int) -> None:
    """A herd released on ``situation``: no stuck client, no error, one computation, everyone gets its value."""
    expect(
        result.hung_clients == 0,
        f"with {situation}, {result.hung_clients} of {clients} clients were still waiting when the checker "
        "stopped them (a deadlock).",
        "Wait in a loop bounded by a deadline (LOCK_WAIT_S), and inside it keep retrying SET NX: a lock whose "
        "holder died is freed by its TTL, and the next client must be able to take it.",
    )
    if result.errors:
        kind, count = max(result.errors_by_type.items(), key=lambda item: item[1])
        expect(
            False,
            f"with {situation}, {result.errors} of {result.read_count} calls raised ({count} {kind}).",
            "Callers that find the lock taken should sleep briefly (LOCK_POLL_S), re-read the key and retry "
            "the lock until LOCK_WAIT_S has passed, which is longer than a lock's TTL."
            if kind == "TimeoutError"
            else f"Call your function by hand to see the {kind}, fix it, then check again.",
        )
    expect(
        len(computed) == 1,
        f"with {situation}, {clients} concurrent callers ran compute() {len(computed)} times; expected exactly once.",
        "Only the client whose SET lock_key token NX PX succeeds may compute; right after taking the lock, read "
        "the key again (another client may have filled it a moment ago); everyone else waits and re-reads."
        if computed
        else "Someone must compute: the client that wins the lock calls compute() and stores the value.",
    )
    wrong = [read for read in result.reads if read.value != computed[0]]
    expect(
        not wrong,
        f"with {situation}, {len(wrong)} of {result.read_count} callers returned something other than the "
        "computed value.",
        "Every caller returns the value: the one it computed, or json.loads of the one it found cached.",
    )


def _check_crashed_holder(
    herd: Herd,
    call: Read,
    cache: redis.Redis,
    keys: tuple[str, str],
    computations: tuple[list[dict], list[float]],
    locks: _LockWatch,
    clients: int,
) -> None:
    """A herd released just after a crashed holder's lock was set: everyone waits for its TTL, then one computes.

    The lock is set inside the herd's priming, right before the release. A run in which some client's
    first try for the lock got its reply only after the lock's TTL (a machine too busy to start the herd in
    time) did not test the situation: a solution that never retries the lock would pass it. Such a run
    is run again (see ``_run_until_fair``).
    """
    situation = "a lock left by a crashed holder"
    (key, lock_key), (computed, computed_when) = keys, computations
    locked_at: list[float] = []  # time.perf_counter() just before the crashed lock was set

    def crashed_holder_prime(life_ms: float) -> None:
        cache.delete(key)  # the value expired ...
        locked_at.append(time.perf_counter())
        cache.set(lock_key, CRASHED_TOKEN, px=CRASHED_LOCK_TTL_MS)  # ... and its recomputer died holding the lock

    def crashed_holder_herd() -> HerdResult:
        for record in (computed, computed_when, locked_at, locks.taken, locks.first_tries):
            record.clear()
        return herd.run(call, prime=crashed_holder_prime, reads_per_client=1, keep_values=True)

    def unfair() -> str | None:
        expired_at = locked_at[0] + CRASHED_LOCK_TTL_MS / 1000.0  # the earliest the crashed lock can expire
        late = sum(replied >= expired_at for replied in locks.first_tries.values())
        if late:
            return f"{late} of {clients} clients first tried the lock after its {CRASHED_LOCK_TTL_MS} ms TTL"
        return locks.stalled_holder(len(computed))

    result = _run_until_fair(crashed_holder_herd, unfair, situation)
    _check_herd(result, computed, situation, clients)
    waited_ms = (computed_when[0] - locked_at[0]) * 1000.0
    expect(
        waited_ms >= CRASHED_LOCK_TTL_MS - EXPIRY_SLACK_MS,
        f"with {situation}, compute() ran {waited_ms:.0f} ms after the lock was set, before its "
        f"{CRASHED_LOCK_TTL_MS} ms TTL ran out: the lock did not keep anyone out.",
        "Compute only after your own SET lock_key token NX PX succeeded.",
    )


def _run_until_fair(run: Callable[[], HerdResult], unfair: Callable[[], str | None], situation: str) -> HerdResult:
    """Run a herd until a run really tested ``situation`` (``unfair()`` says why one did not); never pass on one.

    A machine can stall a thread for longer than a lock's TTL. Such a run is run again, and if all
    ``HERD_ATTEMPTS`` runs are unfair the check fails and says the machine was too busy.
    """
    reason = None
    for _attempt in range(HERD_ATTEMPTS):
        result = run()
        reason = unfair()
        if reason is None:
            return result
    expect(
        False,
        f"the machine was too busy to test {situation}: in {HERD_ATTEMPTS} herds, {reason}.",
        "This says nothing about your function: run the check again when the machine is less busy.",
    )
    raise AssertionError("unreachable: expect(False, ...) raises")


class _LockWatch:
    """Notes the tries for the lock (``SET lock_key ... NX``) of the connections it watches: when, how long."""

    def __init__(self, lock_key: str, fair_ttl_s: float) -> None:
        self.lock_key = lock_key
        self.fair_ttl_s = fair_ttl_s
        self.taken: list[tuple[float, float, float]] = []  # (sent, replied, TTL in s) of each lock taken
        self.first_tries: dict[int, float] = {}  # connection id -> when its first try for the lock was replied

    def watch(self, conn: redis.Redis) -> redis.Redis:
        """``conn``, its tries for the lock noted by this watch (it is wrapped once)."""
        if getattr(conn, "_lock_watch", None) is not self:  # a herd connection, new for every run
            conn._lock_watch = self
            intercept(conn, _LockTries(self, id(conn)))
        return conn

    def stalled_holder(self, computations: int) -> str | None:
        """Why a herd with ``computations`` computations did not test the lock, or None if it did.

        Two computations are the learner's fault unless the lock was taken again so late that the previous
        holder's lock may have expired while it was still computing: a stalled machine, not a wrong lock (a
        TTL shorter than ``fair_ttl_s``, too short for a computation, is the learner's).
        """
        if computations > 1 and any(
            earlier[2] >= self.fair_ttl_s and later[1] - earlier[0] >= earlier[2]
            for earlier, later in itertools.pairwise(sorted(self.taken))
        ):
            return "a lock holder was stalled past its lock's TTL, so another client took the lock and computed again"
        return None


class _LockTries(CommandHook):
    """One connection's tries for the lock, noted in its ``_LockWatch``."""

    def __init__(self, watch: _LockWatch, connection: int) -> None:
        self.watch = watch
        self.connection = connection

    def around_command(self, command: Command, send: Callable[[], object]) -> object:
        """Send the command; note it if it tried for the lock."""
        sent = time.perf_counter()
        reply = send()
        replied = time.perf_counter()
        words = [arg.upper() for arg in command.keys_and_values]
        if command.name == "SET" and command.keys_and_values[:1] == [self.watch.lock_key] and "NX" in words:
            self.watch.first_tries.setdefault(self.connection, replied)
            if reply:
                self.watch.taken.append((sent, replied, _expiry_s(words)))
        return reply


def _expiry_s(words: list[str]) -> float:
    """The TTL a SET's arguments give, in seconds (infinite without EX or PX)."""
    for option, seconds in (("PX", 0.001), ("EX", 1.0)):
        if option in words[:-1]:
            try:
                return float(words[words.index(option) + 1]) * seconds
            except ValueError:
                return math.inf
    return math.inf


def _check_own_lock_only(
    get_or_compute: LockProtectedFill, cache: redis.Redis, db: PrimaryDatabase, key: str, lock_key: str
) -> None:
    """A holder that stalls past its lock's TTL must not release the lock another client took meanwhile."""
    other_token = "another-client-" + secrets.token_hex(4)

    def stalling_compute() -> dict:
        cache.set(lock_key, other_token, px=EXERCISE_TTL_MS)  # our lock expired and another client took it
        return {"user": db.get_user(EXERCISE_USER), "computed_at": time.time()}

    cache.delete(key, lock_key)
    get_or_compute(cache, key, stalling_compute, EXERCISE_TTL_MS)
    expect(
        cache.get(lock_key) == other_token,
        "a client whose lock expired during compute() deleted the lock another client had taken since.",
        "Release with compare-and-delete: release_lock(keys=[lock_key], args=[token], client=conn) deletes the "
        "lock only if it still holds your token. A plain DEL frees whoever holds it now.",
    )


# -- 05.2 · XFetch with a refresh lock, replayed read by read --------------------------------------------
XFETCH_TTL_S = 10.0  # how long a refreshed value lives (virtual seconds; the key's real TTL is longer)
XFETCH_DELTA_S = 0.04  # what each computation reports as its duration
NESTED_READS = 5  # reads by other clients while the refresh is in flight
NESTED_TIMEOUT_S = 2.0  # a read that takes longer than this waited instead of serving the current value
PICKED, NOT_PICKED = 1e-6, 0.5  # values of u: -delta * ln(u) is 0.55 s (refresh) or 0.03 s (serve)

XFetchRead = Callable[[redis.Redis, str, Callable[[], tuple[object, float]], float, float], object]


@checker("05.2")
def check_xfetch_with_lock(xfetch_get_locked: XFetchRead, cache: redis.Redis, keys: KeySpace) -> str:
    """Replay reads of an XFetch entry at chosen times and draws of u: one refresh, served by the others."""
    key = keys.key("exercise", "xfetch")
    lock_key = key + ":refresh"
    base = time.time()
    computed: list[str] = []
    nested: list[object] = []

    def read(now_s: float, u: float, conn: redis.Redis = cache) -> object:
        return xfetch_get_locked(conn, key, compute, now_s, u)

    def compute() -> tuple[object, float]:
        value = f"v{len(computed) + 1}"
        computed.append(value)
        if value == "v1":  # the first refresh: other clients read while it is in flight
            nested.extend(_reads_in_flight(cache, lambda conn: read(base + 4.96, PICKED, conn)))
        return value, XFETCH_DELTA_S

    cache.delete(key, lock_key)
    cache.set(key, json.dumps({"value": "v0", "delta": XFETCH_DELTA_S, "expires_at": base + 5.0}), px=60_000)
    try:
        far = read(base + 4.0, NOT_PICKED)
        expect(
            far == "v0" and not computed,
            f"with 1 s left and u = {NOT_PICKED}, your read computed {len(computed)} time(s) and returned {far!r}.",
            "XFetch refreshes only if -delta * beta * ln(u) >= time left; here that is 0.03 s against 1 s: "
            "return the cached value.",
        )
        refreshed = read(base + 4.95, PICKED)
        expect(
            computed[:1] == ["v1"] and refreshed == "v1",
            f"with 50 ms left and u = {PICKED}, your read returned {refreshed!r} after {len(computed)} computation(s).",
            "Here -delta * beta * ln(u) is 0.55 s, more than the 50 ms left: compute, store and return the new value.",
        )
        in_time = [value for value in nested if value is not _WAITED]
        expect(
            len(in_time) == NESTED_READS,
            f"{NESTED_READS - len(in_time)} of {NESTED_READS} reads made while the refresh was in flight waited "
            f"over {NESTED_TIMEOUT_S:g} s.",
            "A read that loses the lock still has a value to serve: return the cached one instead of waiting.",
        )
        expect(
            len(computed) == 1,
            f"while one refresh was in flight, the other reads computed {len(computed) - 1} more time(s).",
            f"Before refreshing early, take a lock: SET {_short_lock(lock_key)} NX PX ...; a read that does not get "
            "it serves the cached value.",
        )
        expect(
            in_time == ["v0"] * NESTED_READS,
            f"the reads made while the refresh was in flight returned {in_time!r}, not the cached value 'v0'.",
            "A read that does not get the lock returns the value that is cached now.",
        )
        after = read(base + 5.5, NOT_PICKED)
        expect(
            after == "v1" and len(computed) == 1,
            f"after the refresh, a read returned {after!r} (computations: {len(computed)}).",
            "Store the new entry as the notebook's xfetch_store does: value, delta and expires_at = now_s + "
            "XFETCH_TTL_S, as JSON.",
        )
        again = read(base + 4.95 + XFETCH_TTL_S - 0.05, PICKED)
        expect(
            again == "v2" and len(computed) == 2,
            f"at the next expiry, a read picked to refresh returned {again!r}: the refresh lock was still held.",
            "Release the refresh lock after storing the new value (or give it a TTL shorter than the value's).",
        )
        cache.delete(key, lock_key)
        missed = read(base + 100.0, NOT_PICKED)
        expect(
            missed == "v3" and len(computed) == 3,
            f"on an empty key your read returned {missed!r} after {len(computed) - 2} computation(s).",
            "On a miss there is nothing to serve: compute, store and return the value.",
        )
    finally:
        cache.delete(key, lock_key)
    return (
        "a read picked early refreshed once, the reads that came while it was in flight served the cached value "
        "without waiting, and the lock was free again for the next refresh."
    )


_WAITED = object()


def _short_lock(lock_key: str) -> str:
    """The lock key as the learner writes it: key + ':refresh'."""
    return "key:refresh" if lock_key.endswith(":refresh") else lock_key


def _reads_in_flight(cache: redis.Redis, read: Callable[[redis.Redis], object]) -> list[object]:
    """NESTED_READS reads, each on its own connection and thread; _WAITED for one that took too long."""
    results: list[object] = []
    for _ in range(NESTED_READS):
        conn = new_connection(cache)
        box: list[object] = []
        worker = threading.Thread(target=lambda c=conn, b=box: b.append(_safely(read, c)), daemon=True)
        worker.start()
        worker.join(NESTED_TIMEOUT_S)
        if not box:  # it waited: the others would too, so do not wait for each of them
            return results + [_WAITED] * (NESTED_READS - len(results))
        results.append(box[0])
        conn.close()
    return results


def _safely(read: Callable[[redis.Redis], object], conn: redis.Redis) -> object:
    """The read's value, or the exception it raised (shown to the learner as what it returned)."""
    try:
        return read(conn)
    except Exception as exc:  # noqa: BLE001 - reported as the read's result
        return exc
