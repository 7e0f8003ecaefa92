"""Replay a race between threads in one fixed order, so the same interleaving happens on every run.

Each actor is a function ``actor(cache, db)`` run on its own thread with its own Redis connection.
Every Redis command it sends (a MULTI/EXEC block counts as one) and every database query it makes is
one *operation*, and an operation only runs when the schedule gives that actor the turn::

    replay(r, db, actors={"reader": ..., "writer": ...},
           schedule=["reader", "reader", "writer*", "reader"], watch=key)

``"writer"`` is one operation of the writer; ``"writer*"`` lets the writer run until it finishes.
Operations never overlap and their order is the schedule's, whatever the machine's load, so a
race that needs bad luck in production happens every time here. Threads wait on a condition
variable, never on a sleep. The result lists every step and the cache and database at the end.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import redis
from redis.exceptions import NoScriptError, WatchError

from helpers.backend import new_connection
from helpers.checks import checker, expect
from helpers.errors import FriendlyError, InvalidArgument
from helpers.keys import KeySpace
from helpers.primary_db import PrimaryDatabase

TURN_TIMEOUT_S = 20.0  # generous: a loaded 2-core machine can stall a thread for seconds
CACHE, DATABASE = "cache", "database"
_KEY_PREFIX = re.compile(r"^rcp:[^:]+:")
_HEX_TOKEN = re.compile(r"^[0-9a-f]{16,}$")
_NOT_STEPS = {"SCRIPT"}  # SCRIPT LOAD after a NOSCRIPT reply is redis-py plumbing, not a step of the race

Actor = Callable[[redis.Redis, PrimaryDatabase], object]


class ScheduleError(FriendlyError):
    """The schedule and the actors' operations do not fit together (a turn for a finished actor, ...)."""


@dataclass(frozen=True)
class Step:
    """One operation of a replay: who did what to which side, what came back, and the cache after it."""

    index: int  # 1-based position in the replay
    actor: str
    target: str  # "cache" or "database"
    command: str  # e.g. "GET user:42", "UPDATE user 42 SET city=Osaka"
    result: str  # e.g. "miss", "Lisbon v1", "OK", "refused (0)"
    cache_after: str  # the watched key after the step: a row label or "(empty)"

    def __str__(self) -> str:
        return f"{self.index:>2}  {self.actor:<8} → {self.target:<8}  {self.command:<40} → {self.result}"


@dataclass
class Replay:
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


def row_label(row: Mapping) -> str:
    """A short name for a user row: its city and version, e.g. 'Lisbon v1'."""
    return f"{row.get('city', '?')} v{row.get('version', '?')}"


def cached_row(client: redis.Redis, key: str) -> dict | None:
    """The row cached under ``key``: a JSON string, or a hash whose ``row`` field is JSON (None if absent)."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return _as_row(client.get(key))
    if kind == "hash":
        return _as_row(client.hget(key, "row"))
    return None


def replay(
    cache: redis.Redis,
    db: PrimaryDatabase,
    actors: Mapping[str, Actor],
    schedule: Sequence[str],
    *,
    watch: str,
    label: Callable[[dict], str] = row_label,
    user_id: int | None = None,
) -> Replay:
    """Run ``actors`` on their own threads and connections, one operation at a time, in ``schedule`` order.

    ``watch`` is the cache key the race is about: its content is recorded after every step, and the
    result compares it with the database row of ``user_id`` (by default, the number the key ends with).
    ``label`` names a row in the steps (default: city and version, 'Lisbon v1').
    """
    _validate(actors, schedule, watch)
    turns = _Turns(list(actors))
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
        client = _gated_client(new_connection(cache), name, recorder)
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
        turns.abort()  # releases any actor still waiting, so no thread outlives the replay
        _join(threads)
        for client in clients:
            client.close()
    _raise_actor_failure(failures)
    target_user = user_id if user_id is not None else _user_in(watch)
    try:
        final_cache = cached_row(observer, watch)
    finally:
        observer.close()
    database_row = db.get_user(target_user) if target_user is not None else None
    return Replay(turns.steps, returned, final_cache, database_row, watch, label)


# -- scheduling ---------------------------------------------------------------------------------------
class _Aborted(BaseException):
    """Raised inside an actor's thread when the replay ends without giving it its turn."""


class _Turns:
    """Whose turn it is, guarded by one condition variable; the coordinator hands turns out one at a time."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.cond = threading.Condition()
        self.turn: str | None = None
        self.finished: set[str] = set()
        self.waiting: dict[str, str] = {}  # actor -> the operation it waits to run
        self.done_ops: dict[str, int] = dict.fromkeys(names, 0)
        self.steps: list[Step] = []
        self.aborted = False

    def wait_for_turn(self, actor: str, operation: str) -> None:
        """Block ``actor`` until the schedule gives it the turn for ``operation`` (or the replay aborts)."""
        with self.cond:
            self.waiting[actor] = operation
            self.cond.notify_all()
            got = self.cond.wait_for(lambda: self.turn == actor or self.aborted, TURN_TIMEOUT_S)
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
        """Stop the replay: every waiting actor is released with an abort."""
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
                took = turns.cond.wait_for(lambda n=name: turns.turn is None or n in turns.finished, TURN_TIMEOUT_S)
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
        settled = turns.cond.wait_for(
            lambda: all(n in turns.finished or n in turns.waiting for n in turns.names), TURN_TIMEOUT_S
        )
        left = {n: op for n, op in turns.waiting.items() if n not in turns.finished}
        if not settled or left:
            detail = ", ".join(f"{n} still wanted to run {op!r}" for n, op in left.items()) or "an actor did not finish"
            raise ScheduleError(f"the schedule ended too early: {detail}. Add turns, or end with '<actor>*'.")


def _run_actor(actor, name, client, db, turns, returned, failures) -> None:
    try:
        returned[name] = actor(client, db)
    except _Aborted:
        pass
    except BaseException as exc:  # reported by replay() in the caller's thread
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
        raise InvalidArgument("replay() needs at least one actor, e.g. actors={'reader': ...}.")
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


def _gated_client(client: redis.Redis, actor: str, recorder: _Recorder) -> redis.Redis:
    """``client`` with every command (and every MULTI/EXEC block) waiting for ``actor``'s turn."""
    send = client.execute_command

    def execute_command(*args, **options):
        name = str(args[0]).upper()
        if name.split()[0] in _NOT_STEPS:
            return send(*args, **options)
        return recorder.run(
            actor,
            CACHE,
            _command_text(args, recorder.label),
            lambda: send(*args, **options),
            _reply_renderer(args, recorder.label),
        )

    make_pipeline = client.pipeline

    def pipeline(*args, **kwargs):
        pipe = make_pipeline(*args, **kwargs)
        immediate, execute = pipe.immediate_execute_command, pipe.execute

        def immediate_execute_command(*cmd, **options):
            return recorder.run(
                actor,
                CACHE,
                _command_text(cmd, recorder.label),
                lambda: immediate(*cmd, **options),
                _reply_renderer(cmd, recorder.label),
            )

        def execute_block(raise_on_error: bool = True):
            queued = [_command_text(cmd, recorder.label) for cmd, _options in pipe.command_stack]
            text = "MULTI " + "; ".join(queued) + " EXEC" if queued else "EXEC"
            return recorder.run(actor, CACHE, text, lambda: execute(raise_on_error), lambda _result: "OK")

        pipe.immediate_execute_command = immediate_execute_command
        pipe.execute = execute_block
        return pipe

    client.execute_command = execute_command
    client.pipeline = pipeline
    return client


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
def _command_text(args: Sequence, label: Callable[[dict], str]) -> str:
    """'GET user:42', 'SET user:42 Lisbon v1 PX 60000', 'EVALSHA <script> user:42 2 Osaka v2 60000'."""
    name = str(args[0]).upper()
    words = [name]
    rest = list(args[1:])
    if name in {"EVALSHA", "EVAL"} and len(rest) >= 2:
        rest = ["<script>", *rest[2:]]  # the SHA and the key count say nothing to a reader
    for arg in rest:
        words.append(_arg_text(arg, label))
    return " ".join(words)


def _arg_text(arg: object, label: Callable[[dict], str]) -> str:
    if isinstance(arg, bytes):
        arg = arg.decode(errors="replace")
    text = str(arg)
    row = _as_row(text)
    if row is not None:
        return label(row)
    if _HEX_TOKEN.match(text):
        return "<token>"
    text = _KEY_PREFIX.sub("", text)
    return text if len(text) <= 24 else text[:21] + "..."


def _reply_renderer(args: Sequence, label: Callable[[dict], str]) -> Callable[[object], str]:
    name = str(args[0]).upper()

    def render(reply: object) -> str:
        if reply is None:
            return "miss" if name in {"GET", "HGET", "HGETALL", "MGET"} else "nil"
        if name == "DEL":
            return f"{reply} deleted" if reply else "0 (nothing to delete)"
        if isinstance(reply, (list, tuple)):
            return "[" + ", ".join(render(item) if item is not None else "nil" for item in reply) + "]"
        if isinstance(reply, bool):
            return "OK" if reply else "not done"
        return _arg_text(reply, label)

    return render


def _as_row(value: object) -> dict | None:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        row = json.loads(value)
    except ValueError:
        return None
    return row if isinstance(row, dict) and "version" in row else None


def _user_in(key: str) -> int | None:
    match = re.search(r":(\d+)$", key)
    return int(match.group(1)) if match else None


def _numbered(step: Step, index: int) -> Step:
    return Step(index, step.actor, step.target, step.command, step.result, step.cache_after)


# -- 03 · the exercise checker ---------------------------------------------------------------------------
RENAME_USER = 11  # the users the checker renames (well away from the ones the notebook's races use)
RENAME_RACE_USER = 12


@checker("03.1")
def check_rename_user(rename_user: Callable[..., dict], cache: redis.Redis, db: PrimaryDatabase, keys: KeySpace) -> str:
    """Check an invalidating ``rename_user(cache, db, user_id, name)``, alone and in the delete-then-update race."""
    user_key, name_key = keys.key("user", RENAME_USER), keys.key("name", RENAME_USER)
    before = db.get_user(RENAME_USER)
    cache.set(user_key, json.dumps(before), px=60_000)
    cache.set(name_key, before["name"], px=60_000)
    new_name = "Grace Hopper" if before["name"] != "Grace Hopper" else "Ada Lovelace"
    returned = rename_user(cache, db, RENAME_USER, new_name)
    stored = db.get_user(RENAME_USER)
    expect(
        stored["name"] == new_name,
        f"after rename_user(cache, db, {RENAME_USER}, {new_name!r}) the database still says {stored['name']!r}.",
        "Change the database first: row = db.update_user(user_id, name=name).",
    )
    expect(
        isinstance(returned, dict) and returned.get("name") == new_name,
        f"rename_user returned {returned!r}, not the updated row.",
        "Return the row that db.update_user(...) gives back.",
    )
    for key, what in ((user_key, "the user's row"), (name_key, "the display name")):
        left = cache.get(key)
        expect(
            left is None or new_name not in left,
            f"{key!r} ({what}) now holds the new value: that is a write-through, not an invalidation.",
            "Delete the entries instead of SETting them (a DEL is idempotent; section 2 shows why a SET is not).",
        )
        expect(
            left is None,
            f"{key!r} ({what}) still holds the old value after the rename.",
            "Delete both entries: cache.delete(keys.key('user', user_id), keys.key('name', user_id)).",
        )
    race_key, race_name_key = keys.key("user", RENAME_RACE_USER), keys.key("name", RENAME_RACE_USER)
    cache.delete(race_key, race_name_key)
    renamed_to = "Barbara Liskov" if db.get_user(RENAME_RACE_USER)["name"] != "Barbara Liskov" else "Radia Perlman"
    try:
        raced = replay(
            cache,
            db,
            actors={
                "renamer": lambda c, d: rename_user(c, d, RENAME_RACE_USER, renamed_to),
                "reader": lambda c, d: (
                    _reference_read_user(c, d, race_key),
                    _reference_read_name(c, d, race_name_key),
                ),
            },
            schedule=["renamer", "reader*", "renamer*"],
            watch=race_key,
        )
    except ScheduleError:
        raced = None
    finally:
        cache.delete(user_key, name_key)
    expect(
        raced is not None,
        "in the race replay, rename_user used neither the `cache` nor the `db` it was given.",
        "Use the function's arguments (cache, db), not the globals r and db: each thread has its own connection.",
    )
    mine = [step for step in raced.steps if step.actor == "renamer"]
    expect(
        any(step.target == DATABASE for step in mine),
        "in the race replay, rename_user never used the `db` it was given.",
        "Use the function's `db` argument, not a global database object.",
    )
    expect(
        any(step.target == CACHE for step in mine),
        "in the race replay, rename_user sent nothing through the `cache` connection it was given.",
        "Use the function's `cache` argument, not the global `r`: each thread has its own connection.",
    )
    name_left = cache.get(race_name_key)
    cache.delete(race_key, race_name_key)
    fresh_name = raced.database_row["name"] if raced.database_row else None
    expect(
        raced.consistent and name_left in (None, fresh_name),
        f"a reader that ran right after your first step ({mine[0].command}) put the old value back in the cache, "
        "and it stayed there after your function returned.",
        "Update the database first, then delete the cache entries, so a reader in between can only refill new data.",
    )
    return (
        "the database was renamed, both cached entries were deleted, and a reader racing the rename "
        "could not leave the old name in the cache."
    )


def _reference_read_user(cache: redis.Redis, db, key: str) -> dict:
    """Cache-aside read of a user row stored as JSON (the checker's reader)."""
    cached = cache.get(key)
    if cached is not None:
        return json.loads(cached)
    row = db.get_user(_user_in(key))
    cache.set(key, json.dumps(row), px=60_000)
    return row


def _reference_read_name(cache: redis.Redis, db, key: str) -> str:
    """Cache-aside read of a display name stored as a plain string (the checker's reader)."""
    cached = cache.get(key)
    if cached is not None:
        return cached
    name = db.get_user(_user_in(key))["name"]
    cache.set(key, name, px=60_000)
    return name
