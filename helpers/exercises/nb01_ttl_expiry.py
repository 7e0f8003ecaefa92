"""Notebook 01's checkers: a write path that updates the database, then deletes the cached copy (01.1), and a
sliding-TTL cache-aside read that renews the TTL with one ``GETEX`` (01.2).

Each checker exercises the learner's function and returns a ``CheckResult`` (see ``helpers.exercises.framework``):
a pass, or what is wrong and a hint. The texts hold no timings, so a stored "not solved yet" is stable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.framework import checker, expect
from helpers.harness.intercept import Command, CommandHook, intercept

# -- 01.1 · the write path ---------------------------------------------------------------------------
UPDATED_USER = 7


@contextmanager
def watching_the_write(db: PrimaryDatabase, cache: redis.Redis, key: str) -> Iterator[list[bool]]:
    """While inside, each ``db.update_user`` call records whether ``key`` was still cached when it ran."""
    seen: list[bool] = []
    update = db.update_user

    def update_user(user_id: int, **changes: str) -> dict:
        seen.append(bool(cache.exists(key)))
        return update(user_id, **changes)

    db.update_user = update_user  # this instance only, and only while checking
    try:
        yield seen
    finally:
        del db.update_user


@checker("01.1")
def check_update_city(
    update_city: Callable[[int, str], object], cache: redis.Redis, db: PrimaryDatabase, keys: KeySpace
) -> str:
    """Check ``update_city(user_id, city)``: the database written first, then the cached copy deleted."""
    key = keys.key("user", UPDATED_USER)
    before = db.get_user(UPDATED_USER)
    new_city = "Osaka" if before["city"] != "Osaka" else "Quito"
    cache.set(key, json.dumps(before), ex=60)  # the cached copy, as a read would have left it
    try:
        with watching_the_write(db, cache, key) as writes:
            update_city(UPDATED_USER, new_city)
        stored = db.get_user(UPDATED_USER)
        expect(
            len(writes) == 1 and stored["city"] == new_city,
            f"after update_city({UPDATED_USER}, {new_city!r}) the database says city {stored['city']!r} "
            f"({len(writes)} calls of db.update_user).",
            "Write the database once: db.update_user(user_id, city=city). The database is the truth.",
        )
        cached = cache.get(key)
        expect(
            cached is None or json.loads(cached).get("city") != before["city"],
            f"the cached profile {key!r} still says {before['city']!r}: every read serves the old city "
            "until its TTL runs out.",
            "After the database write, delete the cached copy: r.delete(keys.key('user', user_id)).",
        )
        expect(
            cached is None,
            f"the cached profile {key!r} was rewritten with the new city instead of deleted.",
            "Do not write the cache on the write path (GET, edit, SET back): two concurrent updates can lose "
            "one change (notebook 03). Delete the key; the next read loads the fresh row.",
        )
        expect(
            writes == [True],
            "the cached copy was deleted before the database was written: a read in between would cache the "
            "old row again, for a whole TTL.",
            "Swap the two steps: db.update_user(...) first, then r.delete(key).",
        )
    finally:
        cache.delete(key)
        db.update_user(UPDATED_USER, city=before["city"])  # leave the database as the notebook had it
    return "the database was written first, then the cached copy deleted: the next read loads the fresh row."


# -- 01.2 · a sliding-TTL read -----------------------------------------------------------------------
SLIDING_TTL_S = 60
LEFT_BEFORE_HIT_S = 5  # the cached copy's TTL when the check reads it: a renewal shows as ~60 s
SLACK_S = 3


class CommandNames(CommandHook):
    """Records the name of every command a client sends, queued ones included."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def saw(self, command: Command, reply: object) -> None:
        """Remember the command's name."""
        self.names.append(command.name)


@contextmanager
def recording(client: redis.Redis) -> Iterator[CommandNames]:
    """While inside, every command ``client`` sends is recorded; afterwards the client is as it was."""
    saved = {name: client.__dict__[name] for name in ("execute_command", "pipeline") if name in client.__dict__}
    hook = CommandNames()
    intercept(client, hook)
    try:
        yield hook
    finally:
        for name in ("execute_command", "pipeline"):
            client.__dict__.pop(name, None)
        client.__dict__.update(saved)


@checker("01.2")
def check_sliding_read(
    read_profile_sliding: Callable[[int], dict], cache: redis.Redis, db: PrimaryDatabase, keys: KeySpace
) -> str:
    """Check ``read_profile_sliding(user_id)``: one GETEX renews a hit's TTL; a miss fills with the TTL."""
    hit_user, miss_user = 11, 12
    hit_key, miss_key = keys.key("user", hit_user), keys.key("user", miss_user)
    row = db.get_user(hit_user)
    cache.delete(hit_key, miss_key)
    try:
        cache.set(hit_key, json.dumps(row), ex=LEFT_BEFORE_HIT_S)
        before = db.query_count
        with recording(cache) as sent:
            profile = read_profile_sliding(hit_user)
        expect(
            profile == row,
            f"read_profile_sliding({hit_user}) returned {profile!r} for a cached profile.",
            "On a hit, return json.loads(cached): the profile dict.",
        )
        expect(
            db.query_count == before,
            "a read of a cached profile queried the database.",
            "Return the cached value when r.getex(...) gives one; only a miss reads the database.",
        )
        left = cache.ttl(hit_key)
        expect(
            left != -1,
            f"after a hit {hit_key!r} has no TTL (TTL replied -1): it would never expire.",
            "Renew with r.getex(key, ex=SLIDING_TTL_S), not persist=True.",
        )
        expect(
            left >= SLIDING_TTL_S - SLACK_S,
            f"after a hit {hit_key!r} has {left} s left: the TTL was not renewed (a fixed TTL, not a sliding one).",
            f"Read with r.getex(key, ex=SLIDING_TTL_S): it returns the value and sets a new {SLIDING_TTL_S} s TTL.",
        )
        expect(
            sent.names == ["GETEX"],
            f"a hit sent {sent.names}; a sliding read needs one command, GETEX.",
            "Read and renew in one command and one round trip: r.getex(key, ex=SLIDING_TTL_S), instead of "
            "GET then EXPIRE.",
        )
        before = db.query_count
        filled = read_profile_sliding(miss_user)
        expect(
            filled == db.get_user(miss_user) and db.query_count - before == 2,  # the fill, and the line above
            f"read_profile_sliding({miss_user}) on a miss returned {filled!r} "
            f"after {db.query_count - before - 1} database queries.",
            "On a miss, read db.get_user(user_id) once and return it.",
        )
        miss_ttl = cache.ttl(miss_key)
        expect(
            SLIDING_TTL_S - SLACK_S <= miss_ttl <= SLIDING_TTL_S,
            f"after a miss {miss_key!r} has a TTL of {miss_ttl} s; expected {SLIDING_TTL_S} s.",
            "Fill with r.set(key, json.dumps(profile), ex=SLIDING_TTL_S).",
        )
    finally:
        cache.delete(hit_key, miss_key)
    return f"a hit sent one GETEX and renewed the TTL to {SLIDING_TTL_S} s; a miss filled the cache with it."
