"""The primary database: SQLite as the source of truth, with a query counter and a labelled delay.

Real caches sit in front of a database across a network. ``PrimaryDatabase`` is a real SQLite
database (stdlib, in memory) holding a deterministically seeded ``users`` table. Each query waits
``delay_ms`` in total, half before and half after the SQL runs, standing in for the network round
trip: the value a read returns is the one committed at the middle of its delay, as with a remote
database. The delay is simulated and every description of the database says so.

It is safe to use from many threads: SQL runs under a lock, the waiting happens outside it, so
concurrent queries overlap their latency like requests to a real server.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from helpers.core.clock import REAL_CLOCK, Clock
from helpers.core.errors import FriendlyError, InvalidArgument, require_non_negative, require_whole

FIRST_NAMES = [
    "Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Whitfield", "Yukihiro",
]  # fmt: skip
LAST_NAMES = [
    "Allen", "Backus", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Goldberg", "Hopper", "Iverson",
    "Johnson", "Knuth", "Lamport", "Liskov", "McCarthy", "Perlman", "Ritchie", "Thompson", "Wirth",
]  # fmt: skip
CITIES = ["Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Toronto", "Wellington", "Zurich"]
PLANS = ["free", "pro", "team"]
UPDATABLE = ("name", "email", "city", "plan")


class DatabaseUnavailable(FriendlyError):
    """The primary database did not answer (raised only inside ``PrimaryDatabase.outage()``)."""


@dataclass(frozen=True)
class QueryRecord:
    """One query: when it started and ended (seconds, perf_counter clock), what it was, on which user."""

    start: float
    end: float
    kind: str  # "read" or "write"
    user_id: int
    failed: bool = False


class PrimaryDatabase:
    """A SQLite ``users`` table with a query counter and a simulated network delay per query."""

    def __init__(self, users: int = 1000, *, delay_ms: float = 20.0, seed: int = 7, clock: Clock = REAL_CLOCK) -> None:
        users = require_whole("users", users, minimum=1)
        self.delay_ms = require_non_negative("delay_ms", delay_ms)
        self.users = users
        self.seed = seed
        self.clock = clock  # times the delay and the query log (a harness on a fake clock passes the same one)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,"
            " city TEXT NOT NULL, plan TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1)"
        )
        self._conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, 1)", _seed_rows(users, seed))
        self.reads = 0
        self.writes = 0
        self.query_log: list[QueryRecord] = []
        self._failing = 0

    # -- queries ------------------------------------------------------------------------------
    def get_user(self, user_id: int) -> dict | None:
        """One user's row as a dict (None if there is no such user); counts as one query."""
        with self._query("read", user_id):
            row = self._conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return dict(row) if row is not None else None

    def update_user(self, user_id: int, **changes: str) -> dict:
        """Change some of name/email/city/plan, bump the row's version, and return the new row."""
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown or not changes:
            raise InvalidArgument(f"update_user takes some of {', '.join(UPDATABLE)}; got {sorted(changes)}.")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self._query("write", user_id):
            self._conn.execute(
                f"UPDATE users SET {assignments}, version = version + 1 WHERE id = ?", (*changes.values(), user_id)
            )
            updated = self._conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if updated is None:
            raise InvalidArgument(f"There is no user {user_id} (ids run from 1 to {self.users}).")
        return dict(updated)

    # -- counting -----------------------------------------------------------------------------
    @property
    def query_count(self) -> int:
        """Reads plus writes since creation or the last ``reset_counters()``."""
        return self.reads + self.writes

    def reset_counters(self) -> None:
        """Zero the read and write counters and clear the query log."""
        with self._lock:
            self.reads = 0
            self.writes = 0
            self.query_log = []

    # -- failures -----------------------------------------------------------------------------
    @contextmanager
    def outage(self) -> Iterator[None]:
        """Inside this block every query raises DatabaseUnavailable (for stale-if-error demos)."""
        with self._lock:
            self._failing += 1
        try:
            yield
        finally:
            with self._lock:
                self._failing -= 1

    @property
    def latency_label(self) -> str:
        """How the delay should be described wherever it shows."""
        return f"simulated network latency: {self.delay_ms:g} ms per query"

    def __repr__(self) -> str:
        return (
            f"PrimaryDatabase(SQLite, {self.users} users, {self.latency_label}, "
            f"{self.reads} reads and {self.writes} writes so far)"
        )

    # -- internals ------------------------------------------------------------------------------
    @contextmanager
    def _query(self, kind: str, user_id: int) -> Iterator[None]:
        half_delay = self.delay_ms / 2000.0
        start = self.clock.now()
        if half_delay:
            self.clock.sleep(half_delay)  # the request travelling to the database
        failed = False
        self._lock.acquire()
        try:
            if kind == "read":
                self.reads += 1
            else:
                self.writes += 1
            if self._failing:
                failed = True
                raise DatabaseUnavailable("The primary database is unavailable (simulated outage).")
            yield
        finally:
            self._lock.release()
            if failed:
                self.query_log.append(QueryRecord(start, self.clock.now(), kind, user_id, failed=True))
        if half_delay:
            self.clock.sleep(half_delay)  # the answer travelling back
        self.query_log.append(QueryRecord(start, self.clock.now(), kind, user_id))


def _seed_rows(users: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for user_id in range(1, users + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{user_id}@example.com".lower()
        rows.append((user_id, f"{first} {last}", email, rng.choice(CITIES), rng.choice(PLANS)))
    return rows
