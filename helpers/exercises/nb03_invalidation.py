"""Notebook 03's checkers: an invalidating ``rename_user`` raced by a reader, and a race the learner stages."""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.framework import checker, expect
from helpers.harness.interleaving import CACHE, DATABASE, ScheduleError, interleave, user_in_key

# -- 03 · the exercise checker ---------------------------------------------------------------------------
RENAME_USER = 11  # the users the checker renames (well away from the ones the notebook's races use)
RENAME_RACE_USER = 12
STAGED_RACE_USER = 13


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
        raced = interleave(
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
        "in the race interleaving, rename_user used neither the `cache` nor the `db` it was given.",
        "Use the function's arguments (cache, db), not the globals r and db: each thread has its own connection.",
    )
    mine = [step for step in raced.steps if step.actor == "renamer"]
    expect(
        any(step.target == DATABASE for step in mine),
        "in the race interleaving, rename_user never used the `db` it was given.",
        "Use the function's `db` argument, not a global database object.",
    )
    expect(
        any(step.target == CACHE for step in mine),
        "in the race interleaving, rename_user sent nothing through the `cache` connection it was given.",
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
    row = db.get_user(user_in_key(key))
    cache.set(key, json.dumps(row), px=60_000)
    return row


def _reference_read_name(cache: redis.Redis, db, key: str) -> str:
    """Cache-aside read of a display name stored as a plain string (the checker's reader)."""
    cached = cache.get(key)
    if cached is not None:
        return cached
    name = db.get_user(user_in_key(key))["name"]
    cache.set(key, name, px=60_000)
    return name


@checker("03.2")
def check_staged_race(
    stage_race: Callable[[], list[str]], cache: redis.Redis, db: PrimaryDatabase, keys: KeySpace
) -> str:
    """Run the learner's schedule of a cache-aside reader against a write-through writer; it must end stale."""
    schedule = stage_race()
    expect(
        isinstance(schedule, list) and schedule and all(isinstance(turn, str) for turn in schedule),
        f"stage_race() returned {schedule!r}, not a list of turns.",
        'Return a list such as ["reader", "writer*", "reader*"].',
    )
    unknown = sorted({turn.rstrip("*") for turn in schedule} - {"reader", "writer"})
    expect(
        not unknown, f"the schedule names {unknown}, who are not in this race.", 'The actors are "reader" and "writer".'
    )
    key = keys.key("user", STAGED_RACE_USER)
    cache.delete(key)
    try:
        raced = interleave(
            cache,
            db,
            actors={
                "reader": lambda c, d: _reference_read_user(c, d, key),
                "writer": lambda c, d: _reference_write_through(c, d, key),
            },
            schedule=schedule,
            watch=key,
        )
    except ScheduleError as exc:
        raced, problem = None, str(exc)
    finally:
        cache.delete(key)
    expect(
        raced is not None,
        f"the schedule does not fit the actors: {problem if raced is None else ''}",
        "The reader has 3 operations (GET, SELECT, SET), the writer 2 (UPDATE, SET); "
        "'name' is one of them, 'name*' runs the rest.",
    )
    order = " → ".join(f"{step.actor} {step.command.split()[0]}" for step in raced.steps)
    expect(
        not raced.consistent,
        f"your order ({order}) ended consistent: {raced.verdict}.",
        "The reader must read the database before the writer's UPDATE, and store what it read after the writer's SET.",
    )
    return (
        "the reader's late SET overwrote the writer's new row: write-through does not prevent race 1's stale set "
        "(a SET carries a value, and the last one to arrive wins)."
    )


def _reference_write_through(cache: redis.Redis, db, key: str) -> dict:
    """Update the database, then store the new row (the checker's writer)."""
    row = db.update_user(user_in_key(key), city="Osaka")
    cache.set(key, json.dumps(row), px=60_000)
    return row
