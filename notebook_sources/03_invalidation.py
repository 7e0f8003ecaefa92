# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Invalidation versus write-through, and the races between them
#
# In [notebook 00](00_first_cache.ipynb) a cached profile stayed as it was until its TTL ran out. But people edit their
# profiles, and they expect to see the change at once. When a row changes, the application can **invalidate** the
# cached copy (update the database, then `DEL` the key) or **write through** (update the database, then
# `SET` the new row). Both look correct on one thread. On a real server, with many requests at once, both
# can leave the cache disagreeing with the database, sometimes until the TTL ends. This notebook measures
# the two, then makes their races happen on purpose, in the same order on every run, and fixes them.
#
# **What you'll build:** an invalidating update and a write-through update for the profile cache, then
# versions that survive concurrent threads: a versioned compare-and-set (a Lua script, and the same with
# `WATCH`/`MULTI`/`EXEC`) and leases.
#
# **What you'll learn**
#
# 1. What invalidation and write-through each cost, measured on one seeded workload.
# 2. Three races that leave the cache disagreeing with the database, interleaved step by step.
# 3. What each fix guarantees, exactly, and the case it leaves open: versioned compare-and-set, leases,
#    delayed double delete, and a TTL as the backstop.
# 4. How each strategy holds up when many threads read and write at once.
# 5. Where this goes next: server-assisted invalidation and change-data-capture.
#
# **What you'll need:** [notebook 00](00_first_cache.ipynb) (cache-aside). Python functions; no experience with threads
# needed.
#
# **Time to learn**: about 85 min (core path: about 65 min).

# %% [markdown]
# ## Setup
#
# As in [notebook 00](00_first_cache.ipynb): `r` is the Redis client (fakeredis unless `REDIS_URL` is set), `keys` names
# every key this notebook writes (`rcp:03:...`), and `db` is the SQLite primary database. Its queries wait 2 ms here
# (simulated latency, kept short so that the hundreds of queries below take little time). Every row has a
# `version` column that each update increments: the fixes in section 3 rely on it.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend (fakeredis or a real server)"
import json
import secrets
import time

import matplotlib.pyplot as plt
import redis

from helpers.core.backend import connect
from helpers.core.capabilities import capabilities
from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb03_invalidation import check_rename_user, check_staged_race
from helpers.harness.consistency import measure, measurement_table, read_write_workload, stress, stress_table
from helpers.harness.interleaving import every_order, interleave
from helpers.viz.diagrams import flow_diagram, sequence_diagram, sequence_height
from helpers.viz.plots import PALETTE, bars, figure, replay_figure

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("03")  # every key of this notebook starts with rcp:03:
db = PrimaryDatabase(users=200, delay_ms=2)  # SQLite, 2 ms of simulated latency per query
caps = capabilities(r)
db

# %% tags=["verify"]
assert caps.lua  # both backends run Lua scripts (fakeredis through lupa)
print("Checked: this backend runs Lua scripts (section 3 needs them).")

# %% [markdown]
# ## 1. Invalidate or write through (core)
#
# [Notebook 01](01_ttl_expiry.ipynb)'s exercise already had you do the first of the two strategies below:
# update the database, then delete the cached key, and let the next read fill it again. This notebook
# shows why that habit is right, and where even it can go wrong.
#
# Every function in this notebook takes the cache connection and the database as its first two arguments.
# Later, several threads call them at once, and each thread passes its own connection.
#
# Reading is cache-aside, exactly as in [notebook 00](00_first_cache.ipynb), with the TTL in milliseconds:

# %%
TTL_MS = 60_000  # a minute: the most a wrong entry can live, whatever else goes wrong


def read_user(cache, db, user_id, ttl_ms=TTL_MS):
    """Cache-aside: the cache first, the database on a miss (then remember the row)."""
    key = keys.key("user", user_id)
    cached = cache.get(key)
    if cached is not None:
        return json.loads(cached)
    row = db.get_user(user_id)
    cache.set(key, json.dumps(row), px=ttl_ms)
    return row


# %% [markdown]
# Three ways to write. The first leaves the cache alone and lets the TTL catch up (the baseline); the
# other two are the strategies this notebook is about. Both change the database **first**: section 2
# shows what happens otherwise.

# %%
def update_user_ttl_only(cache, db, user_id, **changes):
    """Change the database and leave the cache alone: readers see the old row until the TTL ends."""
    return db.update_user(user_id, **changes)


def update_user_invalidating(cache, db, user_id, **changes):
    """Change the database, then delete the cached copy: the next read fills it again."""
    row = db.update_user(user_id, **changes)
    cache.delete(keys.key("user", user_id))
    return row


def update_user_write_through(cache, db, user_id, **changes):
    """Change the database, then store the new row: the next read is a hit."""
    row = db.update_user(user_id, **changes)
    cache.set(keys.key("user", user_id), json.dumps(row), px=TTL_MS)
    return row


# %% [markdown]
# **Predict:** user 7 is cached. After `update_user_invalidating(r, db, 7, city="Quito")`, what does the
# cache hold for user 7? And after a write-through to Osaka?

# %%
user_7 = keys.key("user", 7)
read_user(r, db, 7)  # a miss: user 7 is now cached
update_user_invalidating(r, db, 7, city="Quito")
after_invalidation = r.get(user_7)
update_user_write_through(r, db, 7, city="Osaka")
after_write_through = json.loads(r.get(user_7))["city"]
after_invalidation, after_write_through

# %% tags=["verify"]
assert after_invalidation is None and after_write_through == "Osaka"
print("Checked: after the invalidation the key was empty; after the write-through it held Osaka.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# After the invalidation, nothing (`None`): the key is gone, and the next read fills it from the database.
# After the write-through, the new row, Osaka: the next read is a hit.
#
# </details>

# %% [markdown]
# Now the cost of each, under one seeded workload: 600 requests on 100 users, 10 % of them writes. Reads
# follow a Zipf popularity (a few users are read most); writes fall on any user alike, as profile edits do.
# `measure` runs the workload through a strategy on one thread, from an empty cache, and counts:
#
# - **stale reads**: reads that returned an older version than the database held at that moment;
# - **database reads** (the misses) and **cache writes** (`SET` commands);
# - **never read**: cache writes that no read hit before the entry was replaced, deleted, or the run
#   ended, and the bytes of those values still in the cache at the end.
#
# **Predict:** which strategy sends fewer reads to the database, and which one writes more to the cache?

# %%
workload = read_write_workload(n_ops=600, users=100, write_share=0.1, seed=3)
n_writes = sum(op.kind == "write" for op in workload)
print(f"{len(workload) - n_writes} reads and {n_writes} writes; the first five: {workload[:5]}")

# %%
updates = {
    "TTL only": update_user_ttl_only,
    "invalidate": update_user_invalidating,
    "write-through": update_user_write_through,
}
measured = {name: measure(name, read_user, update, r, db, keys, workload) for name, update in updates.items()}
ttl_only, invalidate, write_through = measured.values()
print(measurement_table(measured.values()))

# %% tags=["verify"]
assert ttl_only.stale_reads > 0  # without invalidation, readers see old rows until the TTL ends
assert invalidate.stale_reads == write_through.stale_reads == 0  # on one thread both are always fresh
assert write_through.database_reads < invalidate.database_reads  # a write-through leaves a hit behind
assert write_through.cache_writes > invalidate.cache_writes  # ...by writing on every update
assert write_through.never_read > invalidate.never_read  # ...including users nobody reads again
print("Checked: TTL-only served stale reads, the other two none; write-through read the database less and "
      "wrote the cache more, more of it never read.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Write-through sends fewer reads to the database, and writes more to the cache. On one thread both
# strategies are always fresh. Write-through saves the misses that follow each update, and pays for it
# with a `SET` on every update, including updates of users nobody reads in the next minute: those entries
# sit in memory until their TTL ends. Invalidation only fills what someone reads.
#
# </details>
#
# How much memory those unread entries take, as Redis counts it (`MEMORY USAGE`: the value plus the key and
# Redis's own bookkeeping). fakeredis has no memory accounting, so there the byte counts above (the values
# alone) stand in:

# %% tags=["nbval-ignore-output"] output_varies="only a real server reports MEMORY USAGE (fakeredis does not)"
if caps.memory_usage:
    for m in measured.values():
        print(f"{m.strategy:<14} {m.never_read_memory_bytes:>6} bytes of Redis memory held by entries never read")
else:
    print(f"{caps.backend.label} does not report MEMORY USAGE; the value bytes in the table stand in for it.")

# %% tags=["verify"]
if caps.memory_usage:
    assert write_through.never_read_memory_bytes > invalidate.never_read_memory_bytes > 0
else:
    assert all(m.never_read_memory_bytes is None for m in measured.values())
print("Checked: where the server reports MEMORY USAGE, write-through's unread entries hold more memory.")

# %%
names = list(measured)
colors = [PALETTE["muted"], PALETTE["neutral"], PALETTE["fast"]]
fig, (stale_ax, db_ax, writes_ax) = figure("600 requests, three ways to write", r, ncols=3, height=3.2)
stale_bars = bars(stale_ax, names, [m.stale_reads for m in measured.values()], colors=colors, unit="")
stale_ax.set(title="stale reads")
db_bars = bars(db_ax, names, [m.database_reads for m in measured.values()], colors=colors, unit="")
db_ax.set(title="database reads")
write_bars = bars(writes_ax, names, [m.cache_writes for m in measured.values()], colors=colors, unit="")
never_read = [m.never_read for m in measured.values()]
writes_ax.bar(names, never_read, color="white", hatch="//", alpha=0.6, label="never read")
writes_ax.set(title="cache writes (hatched: never read)")
for ax in (stale_ax, db_ax, writes_ax):
    ax.tick_params(axis="x", labelsize=8)
plt.show()

# %% tags=["verify"]
assert [b.get_height() for b in db_bars] == [m.database_reads for m in measured.values()]
assert [b.get_height() for b in write_bars] == [m.cache_writes for m in measured.values()]
print("Checked: the bars show the measured counts.")

# %% [markdown]
# ## 2. Three races, interleaved step by step (core)
#
# That measurement ran on one thread, so no two requests ever overlapped. A real server runs many at once,
# and the order in which their steps reach Redis and the database is up to the operating system, the
# network and luck. Races that need bad luck are rare, and rare bugs are hard to see. So here we choose
# the interleaving: `interleave` runs each *actor* (a function of `cache, db`) on its own thread with its
# own connection, and lets each Redis command and each database query through only when the `schedule`
# gives that actor the turn. `"writer"` in the schedule is one operation of the writer; `"writer*"` lets it run
# to the end. The threads wait on each other (a condition variable), never on a sleep, so the same
# interleaving happens on every run, on any machine, under any load.
#
# ### Race 1: the stale set
#
# A reader misses and reads the database. Before it stores what it read, a writer updates the row and
# deletes the key (there is nothing to delete yet). Then the reader stores the row it read: the old one.
#
# **Predict:** what does the cache hold at the end, and for how long?

# %%
stale_set = interleave(
    r,
    db,
    actors={
        "reader": lambda cache, db: read_user(cache, db, 101),
        "writer": lambda cache, db: update_user_invalidating(cache, db, 101, city="Osaka"),
    },
    schedule=["reader", "reader", "writer", "writer", "reader"],
    watch=keys.key("user", 101),
)
stale_set

# %%
fig, ax = replay_figure("Race 1: the stale set", r, height=sequence_height(stale_set))
arrows = sequence_diagram(ax, stale_set)
plt.show()

# %% tags=["verify"]
assert not stale_set.consistent
assert stale_set.cache_row["version"] < stale_set.database_row["version"]
assert [a.step for a in arrows] == [1, 2, 3, 4, 5]
print("Checked: race 1 ended with an older version in the cache than in the database, in five steps.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# The old row, Nairobi v1, until its TTL ends. The reader's `SET` carried a row read *before* the update,
# and arrived *after* the delete that was meant to remove it. Nothing will correct it: the cache serves
# the old city until the TTL ends (forever, without a TTL). In production this needs a slow read and an
# update in the same few milliseconds: rare, but real, and likelier with slow queries or a lagging replica.
#
# </details>
#
# ### Race 2: delete first, then update
#
# A tempting order is to delete the cached copy first and then change the database:

# %%
def update_user_delete_first(cache, db, user_id, **changes):
    """The wrong order: delete the cached copy, then change the database."""
    cache.delete(keys.key("user", user_id))
    return db.update_user(user_id, **changes)


# %% [markdown]
# Any reader that comes between the two steps misses, reads the *old* row (the update has not happened
# yet) and puts it back. No bad luck with timing is needed, only one read in the gap:

# %%
def race_2(update, user_id):
    """A reader runs whole between the writer's first step and the rest of the writer."""
    return interleave(
        r,
        db,
        actors={
            "writer": lambda cache, db: update(cache, db, user_id, city="Nairobi"),
            "reader": lambda cache, db: read_user(cache, db, user_id),
        },
        schedule=["writer", "reader*", "writer*"],
        watch=keys.key("user", user_id),
    )


delete_first = race_2(update_user_delete_first, 102)
delete_first

# %%
fig, ax = replay_figure("Race 2: delete, then update", r, height=sequence_height(delete_first))
arrows = sequence_diagram(ax, delete_first)
plt.show()

# %% tags=["verify"]
assert not delete_first.consistent
assert [a.step for a in arrows] == [1, 2, 3, 4, 5]
assert [s.target for s in delete_first.steps] == ["cache", "cache", "database", "cache", "database"]
print("Checked: deleting first let the reader put the old row back; the cache ended stale.")

# %% [markdown]
# The same interleaving against `update_user_invalidating` (database first, on another user): the reader
# refills the *new* row, and the delete that follows only costs one extra miss.

# %%
database_first = race_2(update_user_invalidating, 112)
database_first

# %% tags=["verify"]
assert database_first.consistent
print("Checked: with the database first, the same interleaving ends consistent.")

# %% [markdown]
# ### Race 3: two write-throughs, applied in the opposite order
#
# Two writers update the same user. A commits first, B second, so the database ends with B's row. But
# B's `SET` reaches Redis first and A's arrives last:

# %%
def race_3(update, user_id):
    """Writer A commits first, writer B second; B's cache step runs before A's."""
    return interleave(
        r,
        db,
        actors={
            "writer A": lambda cache, db: update(cache, db, user_id, city="Tallinn"),
            "writer B": lambda cache, db: update(cache, db, user_id, city="Zurich"),
        },
        schedule=["writer A", "writer B", "writer B*", "writer A*"],
        watch=keys.key("user", user_id),
    )


crossed_writes = race_3(update_user_write_through, 103)
crossed_writes

# %%
fig, ax = replay_figure("Race 3: two write-throughs cross", r, height=sequence_height(crossed_writes))
arrows = sequence_diagram(ax, crossed_writes)
plt.show()

# %% tags=["verify"]
assert not crossed_writes.consistent
assert crossed_writes.cache_row["city"] == "Tallinn" and crossed_writes.database_row["city"] == "Zurich"
assert len(arrows) == 4
print("Checked: the crossed write-throughs left Tallinn in the cache and Zurich in the database.")

# %% [markdown]
# A `SET` carries a value, and the last one to arrive wins, whichever row is newer. A `DEL` carries no
# value: two deletes in either order leave the same empty key. That is why large deployments (Facebook's
# memcache among them) delete on write rather than set. The same interleaving, invalidating:

# %%
crossed_deletes = race_3(update_user_invalidating, 113)
crossed_deletes

# %% tags=["verify"]
assert crossed_deletes.consistent and crossed_deletes.cache_row is None
print("Checked: the same interleaving with deletes leaves the key empty, so consistent.")

# %% [markdown]
# ## 3. Fixes, and exactly what each guarantees (core)
#
# Each fix runs against the same interleavings. Race 1's interleaving, as a function of the reader, the
# writer and the user (each interleaving uses a user of its own, so each starts from an empty cache):

# %%
def race_1(read, update, user_id, ending=("reader",)):
    """The stale-set interleaving: the reader reads the database, then the writer's two steps, then `ending`."""
    return interleave(
        r,
        db,
        actors={
            "reader": lambda cache, db: read(cache, db, user_id),
            "writer": lambda cache, db: update(cache, db, user_id, city="Osaka"),
        },
        schedule=["reader", "reader", "writer", "writer", *ending],
        watch=keys.key("user", user_id),
    )


# %% [markdown]
# ### Versioned compare-and-set, in Lua
#
# Each row carries a `version` that the database increments on every update. If the cache remembers the
# version of what it holds, it can refuse a write that is not newer than that. The check and the write
# must happen as one step, or another client could write in between: a Lua script runs atomically inside
# Redis. The entry becomes a hash with two fields, `version` and `row`.

# %%
PUT_IF_NEWER = r.register_script("""
local stored = tonumber(redis.call('HGET', KEYS[1], 'version'))
if stored and stored >= tonumber(ARGV[1]) then
    return 0  -- the cache already holds this version or a newer one: refuse
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'row', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
""")


def put_if_newer(cache, key, row):
    """Store ``row`` unless the cache already holds the same or a newer version; 1 if stored, 0 if refused."""
    return PUT_IF_NEWER(keys=[key], args=[row["version"], json.dumps(row), TTL_MS], client=cache)


def read_user_versioned(cache, db, user_id):
    key = keys.key("user", user_id)
    cached = cache.hget(key, "row")
    if cached is not None:
        return json.loads(cached)
    row = db.get_user(user_id)
    put_if_newer(cache, key, row)  # a late fill with an old version is refused
    return row


def update_user_versioned(cache, db, user_id, **changes):
    row = db.update_user(user_id, **changes)
    put_if_newer(cache, keys.key("user", user_id), row)  # a write-through that never goes backwards
    return row


# %% [markdown]
# The writer stores the new row (a versioned write-through) rather than deleting it: a delete would
# forget the version, and the late fill would find an empty key and be accepted. Race 1, the same
# interleaving as before, now on user 104:

# %%
versioned_fill = race_1(read_user_versioned, update_user_versioned, 104)
versioned_fill

# %% tags=["verify"]
assert versioned_fill.consistent and versioned_fill.steps[-1].result == "0"  # the late fill was refused
print("Checked: the late fill of version 1 was refused; the cache holds the database's row.")

# %% [markdown]
# And race 3, the crossed write-throughs: A's older row arrives last and is refused.

# %%
versioned_writes = race_3(update_user_versioned, 114)
versioned_writes

# %% tags=["verify"]
assert versioned_writes.consistent and versioned_writes.cache_row["city"] == "Zurich"
print("Checked: writer A's older row was refused; the cache holds Zurich, as the database does.")

# %% [markdown]
# **What it guarantees, exactly:** the cache never goes backwards *while the entry lives*. The version
# lives in the entry itself, so once the entry expires or is evicted there is nothing to compare with,
# and a late fill of an old row is accepted. Race 1 once more, with a third actor: the entry's TTL runs
# out between the writer's write-through and the reader's late fill (a 1 ms `PEXPIRE` stands in for an
# expiry or an eviction).

# %%
def expire_now(cache, key):
    """The entry's TTL runs out: nothing is left of it, its version included."""
    cache.pexpire(key, 1)
    time.sleep(0.005)
    return cache.exists(key)  # 0: reading an expired key deletes it


versioned_after_expiry = interleave(
    r,
    db,
    actors={
        "reader": lambda cache, db: read_user_versioned(cache, db, 115),
        "writer": lambda cache, db: update_user_versioned(cache, db, 115, city="Osaka"),
        "expiry": lambda cache, db: expire_now(cache, keys.key("user", 115)),
    },
    schedule=["reader", "reader", "writer*", "expiry*", "reader*"],
    watch=keys.key("user", 115),
)
versioned_after_expiry

# %% tags=["verify"]
assert not versioned_after_expiry.consistent and versioned_after_expiry.steps[-1].result == "1"
assert versioned_after_expiry.cache_row["version"] < versioned_after_expiry.database_row["version"]
print("Checked: once the entry had expired, the late fill of the old version was accepted: stale.")

# %% [markdown]
# So the guarantee is narrower than "refuse any old write": a reader stalled longer than the entry lives
# (or than it survives eviction) still fills an old row. The TTL then bounds it, as below. A cache that
# must never go backwards keeps the versions somewhere that outlives the entries.
# %% [markdown]
# ### The same, with `WATCH` / `MULTI` / `EXEC`
#
# Without Lua, Redis offers optimistic locking: `WATCH` the key, read the version, and queue the write
# between `MULTI` and `EXEC`. If any client changed the key after the `WATCH`, `EXEC` does nothing and
# replies with a null, which redis-py raises as `WatchError`; then read again and decide again.

# %%
def put_if_newer_watched(cache, key, row):
    """put_if_newer without Lua: optimistic locking with WATCH, retried when the key changes under us."""
    with cache.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)  # from here on, EXEC fails if anyone changes the key
                stored = pipe.hget(key, "version")  # while watching, commands run at once
                if stored is not None and int(stored) >= row["version"]:
                    return 0
                pipe.multi()  # queue the write...
                pipe.hset(key, mapping={"version": row["version"], "row": json.dumps(row)})
                pipe.pexpire(key, TTL_MS)
                pipe.execute()  # ...and apply it, unless the key changed since the WATCH
                return 1
            except redis.WatchError:
                continue  # someone wrote in between: look again


def read_user_watched(cache, db, user_id):
    key = keys.key("user", user_id)
    cached = cache.hget(key, "row")
    if cached is not None:
        return json.loads(cached)
    row = db.get_user(user_id)
    put_if_newer_watched(cache, key, row)
    return row


def update_user_watched(cache, db, user_id, **changes):
    row = db.update_user(user_id, **changes)
    put_if_newer_watched(cache, keys.key("user", user_id), row)
    return row


# %% [markdown]
# The hardest case for `WATCH`: the writer's whole update lands between the reader's `WATCH` and its `EXEC`.

# %%
watched_fill = interleave(
    r,
    db,
    actors={
        "reader": lambda cache, db: read_user_watched(cache, db, 105),
        "writer": lambda cache, db: update_user_watched(cache, db, 105, city="Osaka"),
    },
    schedule=["reader", "reader", "reader", "reader", "writer*", "reader*"],
    watch=keys.key("user", 105),
)
null_replies = [step.index for step in watched_fill.steps if step.result.startswith("null reply")]
watched_fill

# %%
fig, ax = replay_figure("WATCH: the reader's EXEC fails, its retry refuses", r, height=sequence_height(watched_fill))
arrows = sequence_diagram(ax, watched_fill)
plt.show()

# %% tags=["verify"]
assert watched_fill.consistent and null_replies == [9]  # the reader's EXEC failed once...
assert watched_fill.steps[-1].result == "2"  # ...and its retry found version 2 and gave up
assert len(arrows) == len(watched_fill.steps) == 11
print("Checked: the reader's EXEC got a null reply at step 9, and its retry found version 2 and gave up.")

# %% [markdown]
# Step 9 is the null reply, and the retry reads version 2 and gives up. `WATCH` costs a round trip per
# command and a retry under contention; the Lua script is one round trip. (Redis 8.4 adds `SET ... IFEQ`
# and `DELEX` for compare-and-set on the value itself; the servers this notebook is tested on predate it.)
#
# ### Leases
#
# Versioning needs a version in every row. A **lease** needs none, and keeps delete-on-write: a reader that
# misses receives a token, and may fill the key only while its token is still the current one. The
# writer's delete removes the entry *and* the token, so a fill that started before the update is refused.
# (Facebook's memcache does this; the same token also stops a stampede of fills, the subject of
# [notebook 05](05_stampedes.ipynb).)

# %%
LEASE_MS = 2_000  # a reader that stalls longer than this loses its lease

GET_OR_LEASE = r.register_script("""
local value = redis.call('GET', KEYS[1])
if value then return {'hit', value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'lease', ARGV[1]} end
return {'wait', ''}  -- another reader holds the lease
""")
FILL_WITH_LEASE = r.register_script("""
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end  -- the lease was voided or taken over
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
""")


def read_user_leased(cache, db, user_id):
    key, lease = keys.key("user", user_id), keys.key("user", user_id, "lease")
    outcome, value = GET_OR_LEASE(keys=[key, lease], args=[secrets.token_hex(16), LEASE_MS], client=cache)
    if outcome == "hit":
        return json.loads(value)
    row = db.get_user(user_id)
    if outcome == "lease":  # only the lease holder fills; the others just read the database
        FILL_WITH_LEASE(keys=[key, lease], args=[value, json.dumps(row), TTL_MS], client=cache)
    return row


def update_user_leased(cache, db, user_id, **changes):
    row = db.update_user(user_id, **changes)
    cache.delete(keys.key("user", user_id), keys.key("user", user_id, "lease"))  # the entry and any lease
    return row


# %%
leased_fill = race_1(read_user_leased, update_user_leased, 106)
leased_fill

# %%
fig, ax = replay_figure("Race 1 with a lease: the late fill is refused", r, height=sequence_height(leased_fill))
arrows = sequence_diagram(ax, leased_fill)
plt.show()

# %% tags=["verify"]
assert leased_fill.consistent and leased_fill.steps[-1].result == "0"  # the voided lease refused the fill
assert len(arrows) == 5
print("Checked: the writer's delete voided the lease, and the late fill was refused.")

# %% [markdown]
# **What it guarantees, exactly:** a fill is accepted only if no invalidation came between the reader's
# miss and its fill. It says nothing about how old the row the reader read is. Section 2 named a lagging
# replica as a cause of race 1: a reader that misses *after* the writer's delete takes a fresh lease,
# which nothing will void, and if it reads a replica that has not applied the update yet, it fills the
# old row. Here a stand-in replica answers with the row as it was before the update:

# %%
class LaggingReplica:
    """A read replica that has not applied the latest update yet: it answers with the row it had."""

    def __init__(self, row):
        self.row = dict(row)

    def get_user(self, user_id):
        return dict(self.row)


replica = LaggingReplica(db.get_user(116))  # what the replica holds: the row before the update
update_user_leased(r, db, 116, city="Osaka")  # the primary changes, the entry and any lease are deleted
read_user_leased(r, replica, 116)  # then a reader misses, takes a fresh lease, reads the replica, fills
leased_from_replica = json.loads(r.get(keys.key("user", 116)))
print(f"cache: {leased_from_replica['city']} v{leased_from_replica['version']}; "
      f"database: {db.get_user(116)['city']} v{db.get_user(116)['version']}")

# %% tags=["verify"]
assert leased_from_replica["version"] < db.get_user(116)["version"]
print("Checked: a fill read from a lagging replica after the delete held a valid lease and cached the old row.")

# %% [markdown]
# Leases close the window between a reader's miss and its fill, nothing more. With replicas, read the
# row to cache from the primary (or wait for the replica to catch up), or version the entries.
# %% [markdown]
# ### Delayed double delete: narrows the window, does not close it
#
# A popular patch for race 1: delete, wait a little, delete again, hoping that any late fill lands in
# between. (In production the second delete goes on a queue or a timer so the writer does not wait.)

# %%
DOUBLE_DELETE_DELAY_S = 0.002  # a guess at how long a slow read can take


def update_user_double_delete(cache, db, user_id, **changes):
    row = db.update_user(user_id, **changes)
    cache.delete(keys.key("user", user_id))
    time.sleep(DOUBLE_DELETE_DELAY_S)
    cache.delete(keys.key("user", user_id))  # removes a stale fill that arrived during the delay
    return row


# the reader's late SET lands during the delay, before the second delete...
caught = race_1(read_user, update_user_double_delete, 108, ending=["reader", "writer*"])
# ...or the reader is slower than the delay, and its SET lands after the second delete
missed = race_1(read_user, update_user_double_delete, 109, ending=["writer*", "reader*"])
print(caught.verdict)
print(missed.verdict)

# %% tags=["verify"]
assert caught.consistent and not missed.consistent
print("Checked: the second delete removed a fill that landed within the delay, not one that landed after it.")

# %% [markdown]
# When the stale fill arrives within the delay, the second delete removes it. When the reader is slower
# than the delay (a long query, a garbage-collection pause, a lagging replica), its fill lands after the
# second delete and stays. No delay is long enough for every read. And the second delete cannot tell a
# stale fill from a fresh one: a reader that filled the *new* row during the delay loses it too, so each
# update costs one more miss.

# %%
fresh_fill_lost = interleave(
    r,
    db,
    actors={
        "writer": lambda cache, db: update_user_double_delete(cache, db, 111, city="Osaka"),
        "reader": lambda cache, db: read_user(cache, db, 111),
    },
    schedule=["writer", "writer", "reader*", "writer*"],  # the reader runs whole during the delay
    watch=keys.key("user", 111),
)
fresh_fill_lost

# %% tags=["verify"]
assert fresh_fill_lost.steps[4].cache_after == "Osaka v2"  # the reader filled the new row...
assert fresh_fill_lost.cache_row is None  # ...and the second delete threw it away: one more miss
print("Checked: the reader filled the new row during the delay, and the second delete threw it away.")

# %% [markdown]
# ### Every order, counted
#
# How much does each fix narrow race 1? `every_order` runs a race in every order its actors' operations
# can take, each from an empty cache: 10 orders for a read (3 operations) and an invalidation (2), 20
# with the double delete's second `DEL` (an order in which a read hits at once has fewer steps, and
# counts once). It is a deterministic replay,
# so these counts are the same on every run and every server.

# %%
def race_1_in_every_order(read, update, user_id, writer_operations):
    """Race 1's reader and writer, run in every order of their operations."""
    key = keys.key("user", user_id)
    return every_order(
        r,
        db,
        actors={
            "reader": lambda cache, db: read(cache, db, user_id),
            "writer": lambda cache, db: update(cache, db, user_id, city="Osaka"),
        },
        operations={"reader": 3, "writer": writer_operations},
        watch=key,
        reset=lambda: r.delete(key, keys.key("user", user_id, "lease")),
    )


orders = {
    "invalidate": race_1_in_every_order(read_user, update_user_invalidating, 120, 2),
    "double delete": race_1_in_every_order(read_user, update_user_double_delete, 121, 3),
    "versioned (Lua)": race_1_in_every_order(read_user_versioned, update_user_versioned, 122, 2),
    "leases": race_1_in_every_order(read_user_leased, update_user_leased, 123, 2),
}
stale_orders = {name: sum(not o.consistent for o in found) for name, found in orders.items()}
for name, found in orders.items():
    print(f"{name:<16} {len(found):>2} orders, {stale_orders[name]} of them end stale")

# %%
fig, ax = replay_figure("Race 1 in every order: the share that ends stale", r, height=3.2)
order_colors = [PALETTE["slow"], PALETTE["muted"], PALETTE["fast"], PALETTE["fast"]]  # plain, narrowed, fixed
labels = [f"{name}\n({stale_orders[name]} of {len(found)} orders)" for name, found in orders.items()]
shares = [100 * stale_orders[name] / len(found) for name, found in orders.items()]
drawn = bars(ax, labels, shares, colors=order_colors, unit="%")
ax.set(ylabel="orders that end stale (%)")
plt.show()

# %% tags=["verify"]
assert stale_orders["invalidate"] == stale_orders["double delete"] == 1
assert len(orders["double delete"]) > len(orders["invalidate"])  # one stale order among more
assert stale_orders["versioned (Lua)"] == stale_orders["leases"] == 0
assert [b.get_height() for b in drawn] == shares
print("Checked: invalidation and the double delete each have one stale order (the double delete among "
      "twice as many), versioning and leases none.")

# %% [markdown]
# The double delete narrows the window (one stale order in 20 instead of one in 10; in time, only a read
# slower than its delay), and does not close it. Versioning and leases end consistent in every order of
# this race; their limits are the expiry and the lagging replica above.
# %% [markdown]
# ### Always a TTL: the backstop
#
# Every fill above set a TTL, so even the stale entries that got through have an end. What is left of the
# missed double delete:

# %%
missed_key = keys.key("user", 109)
remaining_ms = r.pttl(missed_key)
print(f"stale for at most {TTL_MS // 1000} s more (its TTL)")

# %% tags=["verify"]
assert 0 < remaining_ms <= TTL_MS  # stale, but for at most TTL_MS
print("Checked: the stale entry has a TTL of at most a minute left.")

# %% [markdown]
# To watch the backstop work, run race 1 again with a reader that fills with a 300 ms TTL, then wait for it:

# %%
SHORT_TTL_MS = 300
short_lived = race_1(
    lambda cache, db, user_id: read_user(cache, db, user_id, ttl_ms=SHORT_TTL_MS), update_user_invalidating, 110
)
deadline = time.monotonic() + 2 * SHORT_TTL_MS / 1000 + 1
while r.exists(keys.key("user", 110)) and time.monotonic() < deadline:
    time.sleep(0.02)
after_ttl = read_user(r, db, 110)
print(f"right after the race: {short_lived.verdict}")
print(f"after the TTL ended, the next read returned {after_ttl['city']} v{after_ttl['version']}")

# %% tags=["verify"]
assert not short_lived.consistent  # the stale set happened, as in race 1
assert after_ttl == short_lived.database_row  # the TTL ended the stale entry; the next read is fresh
print("Checked: the race left a stale entry, and after its 300 ms TTL the next read returned the database's row.")

# %% [markdown]
# The TTL does not prevent a single race. It bounds how long any of them, including the ones nobody
# thought of, can last. Choose it as "how long may a wrong profile be shown", not only as a memory budget.
#
# ## 4. Under stress (going deeper)
#
# `interleave` shows one interleaving at a time. `stress` lets the scheduler pick: 8 threads, each doing 40
# seeded random operations (30 % writes) on 4 hot users, all starting at once at a barrier. Each database
# reply comes back after a seeded random extra 0 to 3 ms, as replies on a busy network do; that jitter lets
# a slow reply overtake a fast one. It counts:
#
# - **stale reads**: reads that returned an older version than one whose update had already *returned*
#   before the read began (a definite mistake, not a matter of which came first);
# - **left inconsistent**: users whose cached row disagreed with the database after all threads finished.
#
# Which interleavings happen depends on timing, so the counts change from run to run; the assertions
# below hold on every run.

# %%
strategies = {
    "invalidate": (read_user, update_user_invalidating),
    "write-through": (read_user, update_user_write_through),
    "double delete": (read_user, update_user_double_delete),
    "versioned (Lua)": (read_user_versioned, update_user_versioned),
    "versioned (WATCH)": (read_user_watched, update_user_watched),
    "leases": (read_user_leased, update_user_leased),
}
stressed = {name: stress(name, read, update, r, db, keys, seed=11) for name, (read, update) in strategies.items()}
print(f"{len(stressed)} strategies, {8 * 40} operations each")

# %% tags=["verify"]
assert all(s.finished and s.reads + s.writes == 8 * 40 for s in stressed.values())
print("Checked: every strategy ran all 320 operations.")

# %% tags=["nbval-ignore-output"] output_varies="which interleavings happen depends on thread timing"
print(stress_table(stressed.values()))

# %% tags=["verify"]
for safe in ("versioned (Lua)", "versioned (WATCH)", "leases"):
    assert stressed[safe].stale_reads == stressed[safe].inconsistent_entries == 0, safe
plain = [stressed["invalidate"], stressed["write-through"]]
plain_mistakes = sum(s.stale_reads + s.inconsistent_entries for s in plain)
assert plain_mistakes > 0  # with this much contention the plain strategies always lose some races
print("Checked: the three fixes served no stale read and left nothing inconsistent; the plain strategies lost races.")

# %%
fig, ax = figure("Stale reads with 8 threads on 4 hot users", r, height=3.2)
stale_counts = [s.stale_reads for s in stressed.values()]
colors = [PALETTE["slow"]] * 2 + [PALETTE["muted"]] + [PALETTE["fast"]] * 3  # plain, narrowed, fixed
drawn = bars(ax, list(stressed), stale_counts, colors=colors, unit="")
ax.set(ylabel="stale reads")
ax.tick_params(axis="x", labelsize=8)
plt.show()

# %% tags=["verify"]
assert [b.get_height() for b in drawn[3:]] == [0, 0, 0]  # the three fixes served no stale read
print("Checked: the three fixes' bars are at zero.")

# %% [markdown]
# The versioned compare-and-set (either way) and the leases served no stale read and left nothing wrong,
# on every run. The two plain strategies, between them, lose races on every run; the table shows how many
# this time. The double delete's count depends on how its 2 ms delay compares with the slowest
# replies, and changes from run to run (it can be zero): it catches the late fills that arrive within the
# delay, and section 3's count of every order showed the one it cannot catch. A stress run this short
# also never lets an entry expire mid-race or reads from a replica, so it cannot show the limits of the
# versions and the leases: section 3 did.
#
# ## 5. Where this goes next (going deeper)
#
# Everything above runs in the application: it must remember to invalidate on every write path, and it
# only knows about the writes it makes itself. Two designs move the work elsewhere:
#
# - **Server-assisted invalidation.** With `CLIENT TRACKING` (Redis 6 and later), Redis remembers which keys
#   each client read (or which prefixes it subscribed to, in `BCAST` mode) and pushes an invalidation
#   message when one changes. That keeps a *local* in-process copy in front of Redis fresh. redis-py 5.1
#   and later build a client-side cache on it (`protocol=3` with a `CacheConfig`), which it enables only
#   against Redis 7.4 or newer; the servers this notebook is tested on (fakeredis, Redis 7.0) do not run it.
# - **Change-data-capture (CDC).** A process reads the database's own change log (MySQL's binlog,
#   PostgreSQL's write-ahead log; Debezium is a common reader) and deletes the cached key for every committed
#   change, in commit order, whichever application made it. Facebook's memcache invalidation daemon
#   (mcsqueal) works this way. Deletes arrive a little later than the commit, so the TTL stays as backstop.

# %%
fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
ax.set_title("Invalidation outside the application (a diagram, not a measurement)")
drawn_arrows = flow_diagram(
    ax,
    boxes={
        "app": (0.0, 1.0, "application\nwrites rows"),
        "db": (2.6, 1.0, "database"),
        "log": (5.2, 1.0, "change log\n(binlog / WAL)"),
        "cdc": (7.8, 1.0, "CDC reader\n(e.g. Debezium)"),
        "redis": (7.8, -0.6, "Redis"),
        "local": (2.6, -0.6, "app servers'\nlocal caches"),
    },
    arrows=[
        ("app", "db", "UPDATE"),
        ("db", "log", "commit"),
        ("log", "cdc", "each change"),
        ("cdc", "redis", "DEL user:42"),
        ("redis", "local", "CLIENT TRACKING: invalidate"),
    ],
)
plt.show()

# %% tags=["verify"]
assert len(drawn_arrows) == 5
print("Checked: the diagram drew its five arrows.")

# %% [markdown]
# ## Your turn
#
# ### Exercise 03.1: rename a user, invalidating both copies (core, about 10 min)
#
# The site caches a user twice: the whole row under `keys.key("user", user_id)` (as JSON) and the display
# name alone under `keys.key("name", user_id)` (a plain string). Write `rename_user(cache, db, user_id, name)`
# that renames the user with **invalidation**:
#
# - change the name in the database with `db.update_user(user_id, name=name)` and return the row it gives back,
# - leave neither cached copy holding the old name,
# - use the `cache` and `db` it is given (the checker runs it on its own thread, with its own connection).
#
# The check renames a cached user, then runs race 2 against your function: a reader runs right after
# your function's first step and reads both keys. Stuck after a real try? The worked solution is in
# [solutions/03_invalidation.py](solutions/03_invalidation.py).

# %% tags=["exercise"]
def rename_user(cache, db, user_id, name):
    """Rename a user in the database, then invalidate both cached copies."""
    # BEGIN SOLUTION
    row = db.update_user(user_id, name=name)
    cache.delete(keys.key("user", user_id), keys.key("name", user_id))  # one DEL, both keys
    return row
    # END SOLUTION


# %% tags=["check"]
check_rename_user(rename_user, cache=r, db=db, keys=keys)

# %% [markdown]
# ### Exercise 03.2: stage the stale set against write-through (going deeper, about 10 min)
#
# Race 1 broke invalidation. Does write-through escape it, since the writer stores the new row itself?
# Find out by staging the race: write `stage_race()` so that it returns a schedule for `interleave` (a
# list of turns, as in section 2) in which a reader and a write-through writer leave the cache stale.
#
# - The reader is cache-aside, as `read_user`: `GET`, and on a miss `SELECT` then `SET` (3 operations).
# - The writer is `update_user_write_through`: `UPDATE`, then `SET` of the new row (2 operations).
# - `"reader"` is one operation of the reader; `"reader*"` runs the rest of it.
#
# The check runs your schedule on a user of its own, on this notebook's server, and tells you what
# happened. Stuck after a real try? The worked solution is in
# [solutions/03_invalidation.py](solutions/03_invalidation.py).

# %% tags=["exercise"]
def stage_race():
    """Return a schedule (a list of turns) for a reader and a write-through writer that ends stale."""
    # BEGIN SOLUTION
    return ["reader", "reader", "writer*", "reader*"]  # read v1, the writer stores v2, then v1 lands on top
    # END SOLUTION


# %% tags=["check"]
check_staged_race(stage_race, cache=r, db=db, keys=keys)

# %% [markdown]
# ## Summary
#
# - **Invalidate** (update the database, then `DEL`) or **write through** (update, then `SET`): on one
#   thread both are always fresh. Write-through saves the miss after each update and pays with a cache
#   write per update, many of them never read (section 1's table).
# - **Order matters.** Update the database first, then delete; the other order lets any reader in between
#   refill the old row (race 2).
# - **Races remain.** A slow fill can land after the delete (race 1, the stale set); two write-throughs can
#   reach the cache in the opposite order (race 3). A `DEL` is idempotent; a `SET` is order-sensitive.
# - **A versioned compare-and-set** (Lua, or `WATCH`/`MULTI`/`EXEC` with a retry on the null reply) never
#   lets the cache go backwards *while the entry lives*; after an expiry or an eviction, a late fill of an
#   old row is accepted.
# - **Leases** (a token voided by the delete) refuse a fill that an invalidation overtook; a reader that
#   misses after the delete and reads a lagging replica still fills an old row.
# - Both ended consistent in every order of race 1 and served no stale read under stress.
# - **A delayed double delete** narrows the window (one stale order in 20 instead of one in 10), does not
#   close it, and costs a miss per update.
# - **Always a TTL**: it bounds every race, including the ones nobody thought of.
# - Write-through does not escape the stale set either (exercise 03.2): a `SET` carries a value, and the
#   last one to arrive wins.
#
# ## Further reading
#
# - Nishtala et al.,
#   [Scaling Memcache at Facebook](https://www.usenix.org/conference/nsdi13/technical-sessions/presentation/nishtala)
#   (NSDI 2013): delete-on-write, leases, and invalidation from the commit log.
# - Redis docs, [transactions: `WATCH`, `MULTI`, `EXEC`](https://redis.io/docs/latest/develop/interact/transactions/)
#   and [scripting with Lua](https://redis.io/docs/latest/develop/interact/programmability/eval-intro/).
# - Redis docs,
#   [client-side caching and `CLIENT TRACKING`](https://redis.io/docs/latest/develop/reference/client-side-caching/).
# - [Debezium](https://debezium.io/documentation/reference/stable/), change-data-capture from database logs.
#
# ## Cleanup
#
# Delete every key this notebook wrote (found by `SCAN` over `rcp:03:<you>:*`, nothing else).

# %%
deleted = keys.cleanup(r)
print(f"deleted the keys under {keys.notebook_prefix}")

# %% tags=["verify"]
assert keys.count(r) == 0
print("Checked: no key of this notebook is left.")
