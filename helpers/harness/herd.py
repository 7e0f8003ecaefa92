"""Herds of concurrent clients reading one hot key: run them, measure them, and check an exercise with one.

A herd is ``clients`` threads, each with its own Redis connection (``helpers.core.backend.new_connection``),
held at a ``threading.Barrier`` and released together. Each client then calls the notebook's read
function in a loop, pausing a seeded, jittered think time between reads, until the window ends (and
at least until it has read once after the primed value's expiry, so that a starved process still tests
the expiry). The harness records every read (when it started, how long it took and how much of that
inside Redis commands, what it returned, what it raised) and every database query made during the run,
so a notebook can count recomputations, stale values, reads that waited and errors, and read latency
percentiles, for each way of protecting the key. Python's garbage collector is paused during a run (as
``timeit`` does), so that a collection stopping every thread is not measured as slow reads.

The caching code under test is the notebook's: the harness only starts, times and stops it. A rung that
deadlocks cannot hang the notebook: after ``timeout_s`` the herd's connections refuse every further
command (raising ``HerdAborted``, which a learner's ``except Exception`` cannot swallow) and the result
reports the clients that were stuck.

Every moment, deadline and duration of a run is read from the herd's ``clock`` (``helpers.core.clock``;
the real one by default), so a test can drive a herd on a ``FakeClock``; give the database the same clock.

Conventions the harness relies on (the notebook follows them):

- a cached value is a dict with a ``"computed_at"`` field (``time.time()`` when it was computed; the
  herd's clock's ``wall()`` on a fake clock), so a read can be classified as *stale*: it returned a value
  computed before the herd, after that value's planned expiry;
- ``prime(life_ms)`` stores that old value so it has ``life_ms`` left to live when the herd starts.
"""

from __future__ import annotations

import gc
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence

import redis

from helpers.core.backend import new_connection
from helpers.core.clock import REAL_CLOCK, Clock
from helpers.core.errors import InvalidArgument, require_non_negative, require_positive, require_whole
from helpers.core.primary_db import PrimaryDatabase
from helpers.harness.herd_results import HerdResult, QuerySpan, ReadRecord, value_time
from helpers.harness.intercept import Block, Command, CommandHook, intercept

Read = Callable[[redis.Redis], object]
MAX_CLIENTS = 500
# Redis stores an expiry in whole milliseconds and expires a key only once the clock has passed it, so a
# key can outlive the planned instant by about a millisecond: reads that close to it are not called stale.
EXPIRY_GRACE_S = 0.002


class HerdAborted(BaseException):
    """Raised by a herd connection after the run's deadline, to stop a client that is stuck in a loop.

    It derives from BaseException, like KeyboardInterrupt, so that ``except Exception`` in a retry
    loop cannot swallow it.
    """


def steady_first_gap(rng: random.Random, think_s: float) -> float:
    """How long a client waits before its first read, so that the herd's read rate is steady from the start.

    Gaps between reads are ``think_s * U(0.5, 1.5)``. Seen from a random instant, the wait until a client's
    next read has a density proportional to P(gap > x): flat up to half a think time, then falling to zero
    at 1.5 think times. Drawing the first wait from it (by rejection) makes the reads arrive at a steady
    rate from the release on, instead of bunching up at the second round of reads.
    """
    while True:
        wait = rng.uniform(0.0, 1.5 * think_s)
        if wait <= 0.5 * think_s or rng.random() < (1.5 * think_s - wait) / think_s:
            return wait


class _Guard(CommandHook):
    """Watches the herd's connections: times their Redis commands, and refuses them once the run is aborted."""

    def __init__(self, clients: int, clock: Clock) -> None:
        self.aborted = threading.Event()
        self.clock = clock
        self.redis_s = [0.0] * clients  # seconds each client has spent inside Redis commands so far

    def protect(self, client: redis.Redis, index: int) -> redis.Redis:
        """Make ``client`` time its commands for client ``index`` and raise HerdAborted once the herd is aborted."""
        return intercept(client, _ClientGuard(self, index))


class _ClientGuard(CommandHook):
    """The guard as one client's connection sees it: every command and every block is timed and can be refused."""

    def __init__(self, guard: _Guard, index: int) -> None:
        self.guard = guard
        self.index = index

    def around_command(self, command: Command, send: Callable[[], object]) -> object:
        """Refuse the command after the deadline; otherwise run it and add its time to this client's."""
        return self._timed(send)

    def around_block(self, block: Block, send: Callable[[], list]) -> list:
        """The same for a whole pipeline or MULTI/EXEC block."""
        return self._timed(send)

    def _timed(self, send: Callable[[], object]):
        if self.guard.aborted.is_set():
            raise HerdAborted("the herd's deadline passed: this client was stopped")
        start = self.guard.clock.now()
        try:
            return send()
        finally:
            self.guard.redis_s[self.index] += self.guard.clock.now() - start


class Herd:
    """``clients`` threads, each with its own connection, released together against one hot key."""

    def __init__(
        self,
        client: redis.Redis,
        db: PrimaryDatabase,
        *,
        clients: int = 50,
        think_ms: float = 10.0,
        life_ms: float = 300.0,
        window_ms: float = 500.0,
        timeout_s: float = 3.0,
        seed: int = 0,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        require_whole("clients", clients, minimum=1, maximum=MAX_CLIENTS)
        if not isinstance(client, redis.Redis):
            raise InvalidArgument(f"client must be the notebook's Redis client (r), got {type(client).__name__}.")
        if not isinstance(db, PrimaryDatabase):
            raise InvalidArgument(f"db must be the notebook's PrimaryDatabase, got {type(db).__name__}.")
        self.client = client
        self.db = db
        self.clients = clients
        self.think_ms = require_positive("think_ms", think_ms)
        self.life_ms = require_non_negative("life_ms", life_ms)
        self.window_ms = require_positive("window_ms", window_ms)
        self.timeout_s = require_positive("timeout_s", timeout_s)
        self.seed = seed
        self.clock = clock
        _require_expiry_inside(self.life_ms, self.window_ms)

    @property
    def nominal_rate_per_s(self) -> float:
        """The read rate the herd aims for: clients / mean think time (a loaded machine reads less)."""
        return self.clients / (self.think_ms / 1000.0)

    def run(
        self,
        read: Read | Sequence[Read],
        *,
        prime: Callable[[float], object] | None = None,
        think_ms: float | None = None,
        life_ms: float | None = None,
        window_ms: float | None = None,
        reads_per_client: int | None = None,
        settle: Callable[[], object] | None = None,
        keep_values: bool = False,
    ) -> HerdResult:
        """Release the herd on ``read`` (one function, or one per client) and measure it.

        ``prime(life_ms)`` runs just before the release, to store the old value with ``life_ms`` to live.
        ``reads_per_client`` stops each client after that many reads (the window still bounds the run).
        ``settle()`` runs after the clients have stopped and before anything is counted: a rung that starts
        work in the background (a refresh) uses it to wait for that work, so it is counted on a slow machine.
        ``keep_values`` keeps every value read in the result (memory), for a checker that compares them.
        """
        think_ms = require_positive("think_ms", self.think_ms if think_ms is None else think_ms)
        life_ms = require_non_negative("life_ms", self.life_ms if life_ms is None else life_ms)
        window_ms = require_positive("window_ms", self.window_ms if window_ms is None else window_ms)
        _require_expiry_inside(life_ms, window_ms)
        if reads_per_client is not None:
            require_whole("reads_per_client", reads_per_client, minimum=1)
        one_run = _Run(
            self,
            self._readers(read),
            prime=prime,
            think_s=think_ms / 1000.0,
            life_s=life_ms / 1000.0,
            window_s=window_ms / 1000.0,
            reads_per_client=reads_per_client,
            keep_values=keep_values,
        )
        collecting = gc.isenabled()
        gc.disable()  # as timeit does: a collection pausing every thread is not a slow read of the rung's
        try:
            one_run.release_and_wait()
        finally:
            if collecting:
                gc.enable()
        if settle is not None:
            settle()
        return one_run.result()

    def _readers(self, read: Read | Sequence[Read]) -> list[Read]:
        if callable(read):
            return [read] * self.clients
        readers = list(read) if isinstance(read, Sequence) else []
        if len(readers) != self.clients or not all(callable(r) for r in readers):
            raise InvalidArgument(
                f"read must be a function of a connection, or a list of {self.clients} such functions "
                f"(one per client); got {type(read).__name__}."
            )
        return readers

    def __repr__(self) -> str:
        return (
            f"Herd({self.clients} clients, each reading every ~{self.think_ms:g} ms "
            f"(~{self.nominal_rate_per_s:,.0f} reads/s in all), the hot value expiring {self.life_ms:g} ms "
            f"into a {self.window_ms:g} ms window)"
        )


def _require_expiry_inside(life_ms: float, window_ms: float) -> None:
    if life_ms >= window_ms:
        raise InvalidArgument(
            f"life_ms ({life_ms:g}) must be shorter than window_ms ({window_ms:g}) so that the expiry falls "
            "inside the measured window."
        )


class _Run:
    """One release of a herd: its clients' threads, the moments that matter, and what they recorded."""

    def __init__(
        self,
        herd: Herd,
        readers: list[Read],
        *,
        prime: Callable[[float], object] | None,
        think_s: float,
        life_s: float,
        window_s: float,
        reads_per_client: int | None,
        keep_values: bool,
    ) -> None:
        self.herd = herd
        self.readers = readers
        self.prime = prime
        self.think_s = think_s
        self.life_s = life_s
        self.window_s = window_s
        self.reads_per_client = reads_per_client
        self.keep_values = keep_values
        self.clock = herd.clock
        self.guard = _Guard(herd.clients, herd.clock)
        self.moment: dict[str, float] = {}  # release, reads_before; when primed also the expiry bounds
        self.prime_failed: list[BaseException] = []
        self.start_timeout = herd.timeout_s + 5.0  # starting many threads on a loaded machine takes a while
        self.barrier = threading.Barrier(herd.clients + 1, action=self._at_release, timeout=self.start_timeout)
        # (client, start, end, seconds in Redis, value kept or None, its computed_at, error type name)
        self.raw: list[tuple[int, float, float, float, object, float | None, str | None]] = []  # append is atomic
        self.hung = 0
        self.recomputations = 0
        self.log_before = 0

    def _at_release(self) -> None:
        """Runs once, when every client waits at the barrier: prime the key, then note the release time."""
        if self.prime is not None:
            # Redis starts the TTL when it runs the SET, somewhere inside prime(): bracket that moment.
            self.moment["earliest_expiry"] = self.clock.now() + self.life_s
            try:
                self.prime(self.life_s * 1000.0)
            except BaseException as exc:
                self.prime_failed.append(exc)
                raise
            self.moment["primed_epoch"] = self.clock.wall()
            self.moment["expires_at"] = self.clock.now() + self.life_s  # the latest it can expire
        self.moment["reads_before"] = self.herd.db.reads  # what prime read is not part of the herd
        self.moment["release"] = self.clock.now()

    def _client_loop(self, index: int, conn: redis.Redis, reader: Read) -> None:
        rng = random.Random(self.herd.seed * 100_003 + index)
        try:
            conn.ping()  # connect before the release, not during the first read
            self.barrier.wait()
        except (Exception, HerdAborted):  # a broken barrier or a failed prime: the main thread reports it
            return
        deadline = self.moment["release"] + self.window_s
        # A client keeps going past the window until it has read once after the expiry, so that a loaded
        # machine that ran few reads in the window still tests the expiry (bounded by the timeout).
        after_expiry = self.moment.get("expires_at", -1.0) + EXPIRY_GRACE_S
        last_chance = deadline + self.herd.timeout_s / 2
        self.clock.sleep(steady_first_gap(rng, self.think_s))  # clients do not all read at the same instant
        done = 0
        read_after_expiry = False
        while self.clock.now() < (deadline if read_after_expiry else last_chance):
            start = self.clock.now()
            in_redis_before = self.guard.redis_s[index]
            read_after_expiry = read_after_expiry or start >= after_expiry
            value, error = None, None
            try:
                value = reader(conn)
            except HerdAborted:
                return  # stopped by the deadline: it is counted as stuck, not as a read
            except Exception as exc:  # the read failed: count it, keep going like a real client
                error = type(exc).__name__
            kept = value if self.keep_values else None
            in_redis = self.guard.redis_s[index] - in_redis_before
            self.raw.append((index, start, self.clock.now(), in_redis, kept, value_time(value), error))
            done += 1
            if self.reads_per_client is not None and done >= self.reads_per_client:
                return
            pause = self.think_s * rng.uniform(0.5, 1.5)
            if read_after_expiry and self.clock.now() + pause >= deadline:
                return  # the next read would start after the window: stop now rather than sleep
            self.clock.sleep(pause)

    def release_and_wait(self) -> None:
        """Start the clients, release them together, wait for them (or stop the stuck ones), count queries."""
        connections = [self.guard.protect(new_connection(self.herd.client), i) for i in range(len(self.readers))]
        threads = [
            threading.Thread(target=self._client_loop, args=(i, conn, reader), daemon=True, name=f"herd-client-{i}")
            for i, (conn, reader) in enumerate(zip(connections, self.readers, strict=True))
        ]
        self.log_before = len(self.herd.db.query_log)
        for thread in threads:
            thread.start()
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self.guard.aborted.set()
            if self.prime_failed:
                raise self.prime_failed[0] from None
            raise RuntimeError(
                f"the herd's {self.herd.clients} clients did not all get ready within {self.start_timeout:g} s"
            ) from None
        except BaseException:  # e.g. KeyboardInterrupt: release and stop the clients
            self.barrier.abort()
            self.guard.aborted.set()
            raise
        hard_deadline = self.moment["release"] + self.window_s + self.herd.timeout_s
        for thread in threads:
            self.clock.wait_for(lambda t=thread: not t.is_alive(), hard_deadline - self.clock.now(), thread.join)
        stuck = [i for i, thread in enumerate(threads) if thread.is_alive()]
        if stuck:
            self.guard.aborted.set()  # their next Redis command raises HerdAborted
            for i in stuck:
                threads[i].join(timeout=0.5)  # real time: the stopped thread only has to reach its next command
        self.hung = len(stuck)
        for thread, conn in zip(threads, connections, strict=True):
            if not thread.is_alive():
                conn.close()

    def result(self) -> HerdResult:
        """What the run measured, in seconds and milliseconds after the release."""
        release = self.moment["release"]
        primed_epoch = self.moment.get("primed_epoch")
        expires_at = self.moment.get("expires_at")
        earliest_expiry = self.moment.get("earliest_expiry")
        records = []
        for index, start, end, in_redis, value, stamp, error in self.raw:
            stale = (
                primed_epoch is not None
                and expires_at is not None
                and start >= expires_at + EXPIRY_GRACE_S
                and stamp is not None
                and stamp < primed_epoch
            )
            records.append(
                ReadRecord(index, start - release, (end - start) * 1000.0, value, stale, error, in_redis * 1000.0)
            )
        records.sort(key=lambda record: record.start_s)
        spans = [
            QuerySpan(q.start - release, q.end - release, q.failed)
            for q in self.herd.db.query_log[self.log_before :]
            if q.kind == "read" and q.start >= release
        ]
        return HerdResult(
            clients=self.herd.clients,
            window_s=self.window_s,
            expires_at_s=None if earliest_expiry is None else earliest_expiry - release,
            reads=tuple(records),
            queries=tuple(sorted(spans, key=lambda span: span.start_s)),
            recomputations=self.herd.db.reads - int(self.moment["reads_before"]),
            hung_clients=self.hung,
            errors_by_type=dict(Counter(record.error for record in records if record.error is not None)),
        )
