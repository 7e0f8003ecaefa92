"""Interleave a race between threads in one fixed order, so the same interleaving happens on every run.

Each actor is a function ``actor(cache, db)`` run on its own thread with its own Redis connection.
Every Redis command it sends (a MULTI/EXEC block counts as one) and every database query it makes is
one *operation*, and an operation only runs when the schedule gives that actor the turn::

    interleave(r, db, actors={"reader": ..., "writer": ...},
               schedule=["reader", "reader", "writer*", "reader"], watch=key)

``"writer"`` is one operation of the writer; ``"writer*"`` lets the writer run until it finishes.
Operations never overlap and their order is the schedule's, whatever the machine's load, so a
race that needs bad luck in production happens every time here. Threads wait on a condition
variable, never on a sleep; how long the coordinator waits for a turn (``turn_timeout_s``) is measured on
the ``clock`` it is given (``helpers.core.clock``, the real one by default). The result, an
``Interleaving``, lists every step and the cache and database at the end. ``every_order`` runs a race
in every order its actors' operations can take, one interleaving after the other.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import redis
from redis.exceptions import NoScriptError, WatchError

from helpers.core.backend import new_connection
from helpers.core.clock import REAL_CLOCK, Clock
from helpers.core.errors import FriendlyError, InvalidArgument, require_positive
from helpers.core.primary_db import PrimaryDatabase
from helpers.harness.intercept import Block, Command, CommandHook, intercept
from helpers.harness.rows import cached_row, command_text, reply_renderer, row_label

TURN_TIMEOUT_S = 20.0  # generous: a loaded 2-core machine can stall a thread for seconds
CACHE, DATABASE = "cache", "database"
_NOT_STEPS = {"SCRIPT"}  # SCRIPT LOAD after a NOSCRIPT reply is redis-py plumbing, not a step of the race

Actor = Callable[[redis.Redis, PrimaryDatabase], object]


class ScheduleError(FriendlyError):
    """The schedule and the actors' operations do not fit together (a turn for a finished actor, ...)."""


@dataclass(frozen=True)
class Step:
    """One operation of an interleaving: who did what to which side, what came back, and the cache after it."""

    index: int  # 1-based position in the interleaving
    actor: str
    target: str  # "cache" or "database"
    command: str  # e.g. "GET user:42", "UPDATE user 42 SET city=Osaka"
    result: str  # e.g. "miss", "Lisbon v1", "OK", "refused (0)"
    cache_after: str  # the watched key after the step: a row label or "(empty)"

    def __str__(self) -> str:
        return f"{self.index:>2}  {self.actor:<8} → {self.target:<8}  {self.command:<40} → {self.result}"


@dataclass
class Interleaving:
    """What happened: the steps in order, each actor's return value, and the final cache and database rows."""

    steps: list[Step]
    returned: dict[str, object]
    cache_row: dict | None  # the row the watched key held at the end (None: no entry)
    database_row: dict | None  # the row in the database at the end
    watch: str
    label: Callable[[dict], str] = field(repr=False, default=lambda row: row_label(row))

    @property
    def consistent(self) -> bool:
        """True when the cache holds nothing for the key, or exactly the database's row."""
        return self.cache_row is None or self.cache_row == self.database_row

    @property
    def verdict(self) -> str:
        """One line: the final cache and database, and whether they agree."""
        cached = self.label(self.cache_row) if self.cache_row is not None else "(empty)"
        stored = self.label(self.database_row) if self.database_row is not None else "(no row)"
        if self.consistent:
            state = (
                "consistent" if self.cache_row is not None else "consistent: the next read fills it from the database"
            )
        else:
            state = "STALE: the cache disagrees with the database"
        return f"end: cache {cached}, database {stored}: {state}"

    def actors(self) -> list[str]:
        """The actors in the order they first appear."""
        return list(dict.fromkeys(step.actor for step in self.steps))

    def __repr__(self) -> str:
        return "\n".join([*(str(step) for step in self.steps), self.verdict])


def interleave(
    cache: redis.Redis,
    db: PrimaryDatabase,
    actors: Mapping[str, Actor],
    schedule: Sequence[str],
    *,
    watch: str,
    label: Callable[[dict], str] = row_label,
    user_id: int | None = None,
    clock: Clock = REAL_CLOCK,
    turn_timeout_s: float = TURN_TIMEOUT_S,
) -> Interleaving:
    """Run ``actors`` on their own threads and connections, one operation at a time, in ``schedule`` order.

    ``watch`` is the cache key the race is about: its content is recorded after every step, and the
    result compares it with the database row of ``user_id`` (by default, the number the key ends with).
    ``label`` names a row in the steps (default: city and version, 'Lisbon v1'). An operation that takes
    longer than ``turn_timeout_s`` on ``clock`` ends the interleaving with a ``ScheduleError``.
    """
    _validate(actors, schedule, watch)
    require_positive("turn_timeout_s", turn_timeout_s)
    turns = _Turns(list(actors), clock, turn_timeout_s)
    observer = new_connection(cache)

    def describe_cache() -> str:
        row = cached_row(observer, watch)
        return label(row) if row is not None else "(empty)"

    recorder = _Recorder(turns, label, describe_cache)
    returned: dict[str, object] = {}
    failures: dict[str, BaseException] = {}
    threads = []
    clients = []
    for name, actor in actors.items():
        client = intercept(new_connection(cache), _Gate(name, recorder))
        clients.append(client)
        gated_db = _GatedDatabase(db, name, recorder)
        threads.append(
            threading.Thread(
                target=_run_actor,
                args=(actor, name, client, gated_db, turns, returned, failures),
                name=f"race-{name}",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    try:
        _drive(turns, schedule)
    except ScheduleError:
        turns.abort()
        _join(threads)
        observer.close()
        _raise_actor_failure(failures)
        raise
    finally:
        turns.abort()  # releases any actor still waiting, so no thread outlives the interleaving
        _join(threads)
        for client in clients:
            client.close()
    _raise_actor_failure(failures)
    target_user = user_id if user_id is not None else user_in_key(watch)
    try:
        final_cache = cached_row(observer, watch)
    finally:
        observer.close()
    database_row = db.get_user(target_user) if target_user is not None else None
    return Interleaving(turns.steps, returned, final_cache, database_row, watch, label)


def every_order(
    cache: redis.Redis,
    db: PrimaryDatabase,
    actors: Mapping[str, Actor],
    operations: Mapping[str, int],
    *,
    watch: str,
    reset: Callable[[], object],
    label: Callable[[dict], str] = row_label,
) -> list[Interleaving]:
    """Interleave ``actors`` in every order of their operations (``operations[name]`` at most), ``reset()`` first.

    Orders with fewer turns are tried too, since an actor may finish sooner (a reader whose first read
    hit); an order that does not fit is skipped, and each distinct sequence of steps is kept once (the
    first found), so the list holds every way the race can go.
    """
    for name in actors:
        require_positive(f"operations[{name!r}]", operations.get(name, 0))
    kept: dict[tuple[str, ...], Interleaving] = {}
    counts = [
        dict(zip(actors, c, strict=True)) for c in itertools.product(*(range(operations[n], 0, -1) for n in actors))
    ]
    for order in (order for c in counts for order in _orders(c)):  # fewer turns too: an actor may finish sooner
        last = {name: max(i for i, n in enumerate(order) if n == name) for name in actors}
        schedule = [name + "*" if i == last[name] else name for i, name in enumerate(order)]
        reset()
        try:
            result = interleave(cache, db, actors, schedule, watch=watch, label=label)
        except ScheduleError:
            continue
        kept.setdefault(tuple(step.actor for step in result.steps), result)
    return list(kept.values())


def _orders(counts: dict[str, int]) -> list[tuple[str, ...]]:
    """Every distinct sequence holding each name ``counts[name]`` times, in a fixed order."""
    if not any(counts.values()):
        return [()]
    found = []
    for name, left in counts.items():
        if left:
            rest = _orders({**counts, name: left - 1})
            found.extend((name, *tail) for tail in rest)
    return found


# -- scheduling ---------------------------------------------------------------------------------------
class _Aborted(BaseException):
    """Raised inside an actor's thread when the interleaving ends without giving it its turn."""


class _Turns:
    """Whose turn it is, guarded by one condition variable; the coordinator hands turns out one at a time."""

    def __init__(self, names: list[str], clock: Clock = REAL_CLOCK, timeout_s: float = TURN_TIMEOUT_S) -> None:
        self.names = names
        self.clock = clock
        self.timeout_s = timeout_s
        self.cond = threading.Condition()
        self.turn: str | None = None
        self.finished: set[str] = set()
        self.waiting: dict[str, str] = {}  # actor -> the operation it waits to run
        self.done_ops: dict[str, int] = dict.fromkeys(names, 0)
        self.steps: list[Step] = []
        self.aborted = False

    def wait_for(self, ready: Callable[[], bool]) -> bool:
        """With the condition held: wait until ``ready()``, at most the turn timeout on the clock."""
        return self.clock.wait_for(ready, self.timeout_s, self.cond.wait)

    def wait_for_turn(self, actor: str, operation: str) -> None:
        """Block ``actor`` until the schedule gives it the turn for ``operation`` (or the interleaving aborts)."""
        with self.cond:
            self.waiting[actor] = operation
            self.cond.notify_all()
            got = self.wait_for(lambda: self.turn == actor or self.aborted)
            self.waiting.pop(actor, None)
            if self.aborted or not got:
                raise _Aborted()

    def end_turn(self, actor: str, step_without_index: Step | None) -> None:
        """Record the step ``actor`` just took (if any) and hand the turn back to the driver."""
        with self.cond:
            if step_without_index is not None:
                self.steps.append(_numbered(step_without_index, len(self.steps) + 1))
            self.done_ops[actor] += 1
            self.turn = None
            self.cond.notify_all()

    def finish(self, actor: str) -> None:
        """Mark ``actor`` as done: it will ask for no more turns."""
        with self.cond:
            self.finished.add(actor)
            self.cond.notify_all()

    def abort(self) -> None:
        """Stop the interleaving: every waiting actor is released with an abort."""
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


def _drive(turns: _Turns, schedule: Sequence[str]) -> None:
    """Hand out the turns of ``schedule``; fail if the actors do not fit it."""
    for position, entry in enumerate(schedule, start=1):
        name, to_the_end = entry.rstrip("*"), entry.endswith("*")
        while True:
            with turns.cond:
                if name in turns.finished:
                    if to_the_end:
                        break
                    raise ScheduleError(
                        f"schedule entry {position} ({entry!r}) gives {name} a turn, but {name} had already finished "
                        f"after {turns.done_ops[name]} operations. Remove the entry or use {name + '*'!r}."
                    )
                turns.turn = name
                turns.cond.notify_all()
                took = turns.wait_for(lambda n=name: turns.turn is None or n in turns.finished)
                if not took:
                    raise ScheduleError(f"{name} did not finish operation {turns.done_ops[name] + 1} in time.")
                if turns.turn is not None:  # the actor finished without using its turn
                    turns.turn = None
                    if to_the_end:
                        break
                    raise ScheduleError(
                        f"schedule entry {position} ({entry!r}) gives {name} a turn, but {name} finished "
                        f"after {turns.done_ops[name]} operations."
                    )
            if not to_the_end:
                break
    with turns.cond:
        settled = turns.wait_for(lambda: all(n in turns.finished or n in turns.waiting for n in turns.names))
        left = {n: op for n, op in turns.waiting.items() if n not in turns.finished}
        if not settled or left:
            detail = ", ".join(f"{n} still wanted to run {op!r}" for n, op in left.items()) or "an actor did not finish"
            raise ScheduleError(f"the schedule ended too early: {detail}. Add turns, or end with '<actor>*'.")


def _run_actor(actor, name, client, db, turns, returned, failures) -> None:
    try:
        returned[name] = actor(client, db)
    except _Aborted:
        pass
    except BaseException as exc:  # reported by interleave() in the caller's thread
        failures[name] = exc
    finally:
        turns.finish(name)


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(TURN_TIMEOUT_S)


def _raise_actor_failure(failures: dict[str, BaseException]) -> None:
    if failures:
        raise next(iter(failures.values()))


def _validate(actors: Mapping[str, Actor], schedule: Sequence[str], watch: str) -> None:
    if not actors:
        raise InvalidArgument("interleave() needs at least one actor, e.g. actors={'reader': ...}.")
    for name, actor in actors.items():
        if not isinstance(name, str) or not name or name.endswith("*"):
            raise InvalidArgument(f"actor names must be non-empty strings not ending in '*', got {name!r}.")
        if not callable(actor):
            raise InvalidArgument(f"actor {name!r} must be a function actor(cache, db), got {actor!r}.")
    if isinstance(schedule, str) or not schedule:
        raise InvalidArgument("schedule must be a non-empty list of actor names, e.g. ['reader', 'writer*'].")
    for entry in schedule:
        if not isinstance(entry, str) or entry.rstrip("*") not in actors:
            raise InvalidArgument(f"schedule entry {entry!r} names no actor; the actors are {sorted(actors)}.")
    if not isinstance(watch, str) or not watch:
        raise InvalidArgument(f"watch must be the cache key the race is about, got {watch!r}.")


# -- gated clients ------------------------------------------------------------------------------------
class _Recorder:
    """Runs one operation when it is the actor's turn, and records it as a step."""

    def __init__(self, turns: _Turns, label: Callable[[dict], str], describe_cache: Callable[[], str]) -> None:
        self.turns = turns
        self.label = label
        self.describe_cache = describe_cache

    def run(
        self, actor: str, target: str, command: str, call: Callable[[], object], render: Callable[[object], str]
    ) -> object:
        """Wait for ``actor``'s turn, make ``call``, record it as a step described by ``render``; return its result."""
        self.turns.wait_for_turn(actor, command)
        try:
            result = call()
        except NoScriptError:
            raise  # redis-py loads the script and retries; the retry is the same step, still in this turn
        except WatchError:
            self._record(actor, target, command, "null reply (WatchError)")
            raise
        except BaseException as exc:
            self._record(actor, target, command, f"error: {type(exc).__name__}: {exc}")
            raise
        self._record(actor, target, command, render(result))
        return result

    def _record(self, actor: str, target: str, command: str, result: str) -> None:
        step = Step(0, actor, target, command, result, self.describe_cache())
        self.turns.end_turn(actor, step)


class _Gate(CommandHook):
    """Each command (and each MULTI/EXEC block, as one) of ``actor``'s client waits for its turn and is a step."""

    def __init__(self, actor: str, recorder: _Recorder) -> None:
        self.actor = actor
        self.recorder = recorder

    def around_command(self, command: Command, send: Callable[[], object]) -> object:
        """Run the command in the actor's turn and record it (redis-py's own SCRIPT plumbing is no step)."""
        if command.name.split()[0] in _NOT_STEPS:
            return send()
        label = self.recorder.label
        return self.recorder.run(
            self.actor, CACHE, command_text(command.args, label), send, reply_renderer(command.args, label)
        )

    def around_block(self, block: Block, send: Callable[[], list]) -> list:
        """Run the whole block in one turn of the actor, as one step."""
        queued = [command_text(command.args, self.recorder.label) for command in block.commands]
        text = "MULTI " + "; ".join(queued) + " EXEC" if queued else "EXEC"
        return self.recorder.run(self.actor, CACHE, text, send, lambda _result: "OK")


class _GatedDatabase:
    """The primary database as one actor sees it: each query waits for that actor's turn."""

    def __init__(self, db: PrimaryDatabase, actor: str, recorder: _Recorder) -> None:
        self._db = db
        self._actor = actor
        self._recorder = recorder

    def get_user(self, user_id: int) -> dict | None:
        """Read one user, when it is this actor's turn."""
        return self._recorder.run(
            self._actor,
            DATABASE,
            f"SELECT user {user_id}",
            lambda: self._db.get_user(user_id),
            lambda row: self._recorder.label(row) if row else "no such user",
        )

    def update_user(self, user_id: int, **changes: str) -> dict:
        """Update one user, when it is this actor's turn."""
        assignments = ", ".join(f"{column}={value}" for column, value in changes.items())
        return self._recorder.run(
            self._actor,
            DATABASE,
            f"UPDATE user {user_id} SET {assignments}",
            lambda: self._db.update_user(user_id, **changes),
            self._recorder.label,
        )

    def __getattr__(self, name: str):
        return getattr(self._db, name)


# -- text -------------------------------------------------------------------------------------------


def user_in_key(key: str) -> int | None:
    """The user id a cache key ends with ('rcp:03:user:42' -> 42), or None."""
    match = re.search(r":(\d+)$", key)
    return int(match.group(1)) if match else None


def _numbered(step: Step, index: int) -> Step:
    return Step(index, step.actor, step.target, step.command, step.result, step.cache_after)
