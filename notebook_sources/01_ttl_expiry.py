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
# # 01 · TTL expiry: how long a cached value lives
#
# In [notebook 00](00_first_cache.ipynb) every cached profile got `EX 60` and we moved on. The TTL is the one setting
# that decides both how often the cache saves a database query and how long it can serve an old answer, and it is
# easy to lose by accident. This notebook takes it apart: how to set and read it, how Redis really
# deletes expired keys, what a fixed and a sliding TTL buy you, and why keys that are loaded together
# should not all expire together.
#
# **What you'll build:** a fixed-TTL and a sliding-TTL cache-aside read, measured against the closed-form
# hit ratio, a jittered bulk load, `update_city` (write the database, then drop the cached copy) and
# `read_profile_sliding`, a sliding-TTL read with `GETEX`.
#
# **What you'll learn**
#
# 1. How to set, read and remove a lifetime: `SET ... EX/PX/EXAT`, `EXPIRE`, `TTL` vs `PTTL`, `PERSIST`, `GETEX`.
# 2. Which commands keep a TTL and which silently drop it, and `EXPIRE NX|XX|GT|LT`.
# 3. How expired keys actually leave memory: lazily on access, and by the active expire cycle.
# 4. What a fixed and a sliding TTL buy you, measured against λT/(1+λT) and 1-exp(-λT).
# 5. Why keys loaded together expire together, and how TTL jitter spreads them out.
#
# **What you'll need:** [notebook 00](00_first_cache.ipynb) (cache-aside, `GET`/`SET ... EX`).
# **Time to learn**: about 70 min (core path: about 60 min).
#
# Every TTL that has to run out here lasts a few hundred milliseconds, so the whole notebook runs in seconds.

# %% [markdown]
# ## Setup
#
# `r` is the Redis client (fakeredis unless `REDIS_URL` names a server), `keys` names every key of this
# notebook (`rcp:01:...`), and `caps` says what the backend can do: fakeredis and Redis differ in a few
# places this notebook touches, and each one is pointed out where it matters.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend: fakeredis or a real server"
import json
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from helpers.core.backend import backend_info, connect
from helpers.core.capabilities import capabilities
from helpers.core.expire_options import expire_with_option
from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb01_ttl_expiry import check_sliding_read, check_update_city
from helpers.harness.timed_replay import mean_with_error, poisson_events, replay_on_schedule, share_with_error
from helpers.labs.expiry_lab import ExpiryLab, past_ttl_in_memory
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, sliding_ttl_hit_ratio
from helpers.viz.plots import PALETTE, figure
from helpers.viz.widgets import ttl_explorer

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("01")  # every key of this notebook starts with rcp:01:
caps = capabilities(r)  # what this backend can do
db = PrimaryDatabase(users=100, delay_ms=5)  # the primary database of notebook 00 (used by the exercises)

caps.summary()

# %% tags=["verify"]
assert backend_info(r).is_real == bool(os.environ.get("REDIS_URL"))
print("Checked: the backend is a real server exactly when REDIS_URL names one.")

# %% [markdown]
# ## 1. Setting and reading a lifetime (core)
#
# A key with a TTL stores the absolute time at which it expires, in milliseconds. You can give it a
# lifetime when you write it (`EX` seconds, `PX` milliseconds, `EXAT`/`PXAT` an absolute Unix time) or
# later (`EXPIRE`, `PEXPIRE`). `TTL` answers in whole seconds, `PTTL` in milliseconds.

# %%
session = keys.key("session", "ada")
r.set(session, "ada", ex=30)  # EX: expire 30 seconds from now
r.ttl(session)

# %% tags=["verify"]
assert 29_000 < r.pttl(session) <= 30_000  # PTTL: milliseconds left
print("Checked: PTTL answered between 29,000 and 30,000 ms for a 30 s TTL.")

# %% [markdown]
# **Predict:** a key written with `PX 1499` has 1.499 seconds left. What does `TTL` answer?

# %%
r.set(session, "ada", px=1499)  # PX: milliseconds
left_ms = r.pttl(session)
r.ttl(session), left_ms > 1_000

# %% tags=["verify"]
assert 1_000 < left_ms <= 1_499
print("Checked: PTTL still showed more than a second left of the 1,499 ms.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# 1. `TTL` **rounds to the nearest second**, so it says 1 while almost a second and a half is left. Use
# `PTTL` wherever precision matters.
# </details>

# %% [markdown]
# Two special replies: **-1** means the key exists but never expires, **-2** means there is no such key.
# `PERSIST` turns a key with a TTL into one without; `EXPIRE` gives it one again, and `EXAT` sets an
# absolute deadline (here: 60 s after the server's clock, which `TIME` reads).

# %%
r.persist(session)  # remove the TTL: the key now lives until deleted
never_expires = r.ttl(session)
missing = r.ttl(keys.key("no-such-key"))
server_now_s, _micros = r.time()
r.set(session, "ada", exat=server_now_s + 60)  # EXAT: an absolute Unix time in seconds
never_expires, missing

# %% tags=["verify"]
assert 58 <= r.ttl(session) <= 60
print("Checked: EXAT 60 s after the server's clock left a TTL of about 60 s.")

# %% [markdown]
# `EXPIRE` with a time of zero or less does not set a TTL: it deletes the key at once.

# %%
r.expire(session, 0)
r.exists(session)

# %% [markdown]
# `GETEX` reads a value and changes its TTL in the same command: `EX`/`PX`/`EXAT`/`PXAT` set a new one,
# `PERSIST` removes it. Reading and renewing in one step is the building block of a **sliding TTL**
# (each read pushes the expiry further out), which section 4 measures.

# %%
r.set(session, "ada", ex=10)
value = r.getex(session, persist=True)  # read, and remove the TTL
value, r.ttl(session)

# %% [markdown]
# With milliseconds the backends differ: Redis (6.2 and later) keeps the milliseconds of `GETEX ... PX`,
# while fakeredis 2.41 rounds the deadline down to a whole second, so `PX 1500` leaves anything from 0.5 to
# 1.5 s. The capability probe found out which one you are on (`caps.getex_ms_precision`); section 4 uses
# `GETEX` where it keeps milliseconds and an equivalent `GET` + `PEXPIRE` transaction where it does not.

# %% tags=["nbval-ignore-output"] output_varies="Redis keeps GETEX's milliseconds; fakeredis rounds them"
r.getex(session, px=1_500)
left_ms = r.pttl(session)
print(f"GETEX PX 1500 left {left_ms} ms (keeps milliseconds: {caps.getex_ms_precision})")

# %% tags=["verify"]
if caps.getex_ms_precision:
    assert 1_000 <= left_ms <= 1_500  # what was asked, minus the time since
else:
    assert r.pexpiretime(session) % 1_000 == 0  # fakeredis: the deadline falls on a whole second
print("Checked: GETEX PX kept its milliseconds where the probe says so, and fell on a whole second elsewhere.")

# %% [markdown]
# ## 2. What keeps a TTL and what drops it (core)
#
# Here is the trap that bites real applications. A cached counter or profile is updated *in place* all the
# time. Some commands keep its TTL; **a plain `SET` replaces the whole key and throws the TTL away**, so
# a value that was meant to live a minute now lives forever (`TTL` answers -1) and is never refreshed
# from the database again.
#
# **Predict** for each step below: TTL kept, or lost?

# %%
views, profile = keys.key("views", "today"), keys.key("user", 7)


def lifetime(key):
    """'no TTL', 'missing', or the TTL rounded to tens of seconds (so the printout does not flicker)."""
    left_ms = r.pttl(key)
    return {-1: "no TTL", -2: "missing"}.get(left_ms, f"TTL ≈ {round(left_ms / 1000, -1):.0f} s")


steps = []
r.set(views, 0, ex=60)
r.incr(views)  # INCR changes the value in place
steps.append(("SET views 0 EX 60, then INCR", lifetime(views)))
r.hset(profile, mapping={"name": "Ada", "city": "Lisbon"})
r.expire(profile, 60)
r.hset(profile, "city", "Osaka")  # HSET changes one field in place
steps.append(("HSET profile, EXPIRE 60, then HSET city", lifetime(profile)))
r.set(views, 41)  # a plain SET: a new value, and no TTL
steps.append(("plain SET views 41", lifetime(views)))
r.set(views, 0, ex=60)
r.set(views, 42, keepttl=True)  # KEEPTTL: a new value, the old TTL
steps.append(("SET views 0 EX 60, then SET views 42 KEEPTTL", lifetime(views)))
for step, after in steps:
    print(f"{step:<46} -> {after}")

# %% tags=["verify"]
assert [after for _, after in steps] == ["TTL ≈ 60 s", "TTL ≈ 60 s", "no TTL", "TTL ≈ 60 s"]
print("Checked: INCR and HSET kept the TTL, a plain SET dropped it, and SET ... KEEPTTL kept it.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Kept, kept, lost, kept. `INCR`, `HSET`, `LPUSH` and other in-place changes keep the TTL, `PERSIST` removes
# it, and `SET` drops it unless you pass `KEEPTTL` (Redis 6.0+), or give it a new one with `EX`/`PX`.
# </details>
#
# ### Changing a TTL only when it helps: `EXPIRE ... NX | XX | GT | LT`
#
# Redis 7.0 added conditions to `EXPIRE`: `NX` sets a TTL only on a key without one, `XX` only on a key
# with one, `GT` only if the new expiry is later, `LT` only if it is sooner. A key without a TTL counts as
# never expiring, so `GT` never applies to it and `LT` always does. `GT` is the safe way for several
# writers to extend a cached value's life without ever shortening it.
#
# fakeredis and Redis 7 understand the options; Redis 6.2 rejects them. `expire_with_option` (in
# `helpers/core/expire_options.py`) uses the command where it exists and the same rule as a small Lua script
# where it does not, so the results below are the same on every backend.
#
# **Predict:** `EXPIRE key 30 GT` on a key with 60 s left. Applied?

# %%
with_ttl, without_ttl = keys.key("opt", "with-ttl"), keys.key("opt", "without-ttl")
outcomes = {}
for option in ("nx", "xx", "gt", "lt"):
    r.set(with_ttl, "v", ex=60)
    r.set(without_ttl, "v")  # no TTL
    applied = expire_with_option(r, with_ttl, 30, option), expire_with_option(r, without_ttl, 30, option)
    outcomes[option.upper()] = applied
print("EXPIRE key 30 ...   key with 60 s left   key without a TTL")
for option, (on_ttl, on_none) in outcomes.items():
    print(f"   {option:<16} {'applied' if on_ttl else 'ignored':<20} {'applied' if on_none else 'ignored'}")

# %% tags=["verify"]
assert outcomes == {"NX": (False, True), "XX": (True, False), "GT": (False, False), "LT": (True, True)}
print("Checked: NX, XX, GT and LT applied exactly where the table says, on every backend.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# No: 30 s from now is sooner than the 60 s left, so `GT` ignores it (the table's `GT` row). `LT` would
# apply it.
# </details>

# %% [markdown]
# ## 3. How expired keys actually die (going deeper)
#
# An expired key is not removed at its deadline. Redis deletes expired keys in two ways:
#
# - **Lazily, on access.** Any command that looks a key up checks its deadline first; an expired key is
#   deleted right there and the command behaves as if it never existed (a `GET` is a miss).
# - **Actively, in the background.** Ten times a second (`hz 10`) the *active expire cycle* walks the
#   table of keys that have a TTL with a cursor, 20 keys at a time, deleting the expired ones, and keeps
#   going while more than 10 % of the keys it looked at were expired (within about 25 % of one CPU).
#   That is the Redis 6.0+ algorithm; the "test 20 random keys, repeat while more than 25 % were expired"
#   story on older pages (the `EXPIRE` doc still tells it) is the pre-6.0 one.
# - **And a fast cycle, between commands.** Before each sleep of its event loop (that is, whenever it has
#   answered what was waiting), a primary also runs a *fast* expire cycle of at most about 1 ms, not more
#   often than every 2 ms, and only when the last slow cycle ran out of time or the share of expired keys it
#   estimates is above that 10 %. So a server with many expired keys sweeps them between commands too, not
#   only ten times a second; with few, it leaves them to the slow cycle and to lazy expiry.
#
# The consequence worth seeing: when only a few of the keys with a TTL have expired, the cycle stops
# early, and those keys **stay in memory** until something reads them or the cursor passes by. When many
# have expired, the cycle sweeps them out within a fraction of a second.
#
# Only a real server has an active cycle and the INFO counters to watch it (`DBSIZE` counts keys in
# memory; INFO's `expired_keys` counts deletions of expired keys, lazy and active). fakeredis has neither:
# it hides an expired key as soon as it is looked at, and its `DBSIZE` never counts one. Both counters
# count every key on the server, so they measure this notebook alone only on a server nobody else writes
# to. So this section measures on a private `redis-server` it starts for the purpose (one is found on most
# machines; its folder is deleted afterwards), else on the server you are connected to if it is a real
# one, else on fakeredis, and says which.

# %% tags=["nbval-ignore-output"] output_varies="runs on REDIS_URL's server, a private sandbox, or fakeredis"
lab = ExpiryLab(r)
lab.start()  # chooses the server and says which (lab.describe())
keys.cleanup(lab.client)  # start from none of this notebook's keys on the measured server

# %% tags=["verify"]
assert lab.is_real == (caps.info or lab.kind == "sandbox")
print("Checked: the lab measures on a real server whenever this backend or a private sandbox is one.")

# %% [markdown]
# **Experiment 1: a few expired keys among many.** 10,000 keys with a long TTL (60 s) and 1,000 with a
# 200 ms TTL, all written at once, then left alone: nothing reads them. After 200 ms, 1,000 of the 11,000
# keys with a TTL (9 %) are expired. We sample `DBSIZE` and `expired_keys` every 50 ms, then at 0.8 s
# *read* the 1,000 short-lived keys once (`EXISTS`), and sample again.
#
# **Predict:** between 0.2 s and 0.8 s, how many of the 1,000 expired keys are still in memory?

# %%
LONG_TTL_MS, SHORT_TTL_MS = 60_000, 200
long_lived = [keys.key("die", "long", i) for i in range(10_000)]
few_short = [keys.key("die", "few", i) for i in range(1_000)]

base_few = lab.sample(time.perf_counter())  # DBSIZE and expired_keys before anything is written
lab.load(long_lived, LONG_TTL_MS)  # SET ... PX for each key, one round trip
start = time.perf_counter()
few_deadlines = lab.load(few_short, SHORT_TTL_MS)  # when the first and the last of them expire
before_read = lab.watch(start, 0.8)  # a sample every 50 ms, nothing read
still_there = sum(lab.client.exists(*few_short[i : i + 500]) for i in range(0, len(few_short), 500))
after_read = lab.watch(start, 0.9)[-2:]
print(
    f"{len(long_lived):,} long-lived and {len(few_short):,} short-lived keys; "
    f"{still_there} of the short-lived keys answered EXISTS at 0.8 s"
)

# %% tags=["verify"]
assert still_there == 0  # every short-lived key reads as gone: to a reader it has expired
print("Checked: no short-lived key answered EXISTS after its TTL.")

# %% [markdown]
# **Experiment 2: many expired keys.** Now 8,000 more keys with a 200 ms TTL next to the 10,000 long-lived
# ones: once they expire, 44 % of the keys with a TTL are expired. Nothing reads them. We sample until
# at most 1 % of them are left in memory (or 4 s have passed: on a busy machine the server gets less CPU
# for its expire cycle).

# %%
many_short = [keys.key("die", "many", i) for i in range(8_000)]
base_many = lab.sample(time.perf_counter())
start2 = time.perf_counter()
many_deadlines = lab.load(many_short, SHORT_TTL_MS)


def mostly_gone(sample):
    """True once the whole batch is past its TTL and at most 1 % of it is still in memory."""
    past_ttl = sample.server_s > many_deadlines[1] + 0.001
    return past_ttl and sample.dbsize - base_many.dbsize <= len(many_short) // 100


many_samples = lab.watch(start2, 4.0, stop_when=mostly_gone)  # stops early, as soon as they are gone
print(f"{len(many_short):,} short-lived keys next to {len(long_lived):,} long-lived ones, watched, never read")

# %% [markdown]
# What the two experiments saw, on the server's clock (so that "past its TTL" is exact). Solid line:
# short-lived keys that are **past their TTL but still in memory** (`DBSIZE` minus the keys still alive);
# dashed: deletions counted by INFO's `expired_keys` (real server only). The dotted line marks the read in
# experiment 1.

# %% tags=["nbval-ignore-output"] output_varies="what lingers depends on the server and its expire cycle's timing"
few = past_ttl_in_memory(
    before_read + after_read,
    base_few,
    batch_size=len(few_short),
    other_keys=len(long_lived),
    deadlines=few_deadlines,
    ttl_ms=SHORT_TTL_MS,
)
many = past_ttl_in_memory(
    many_samples, base_many, batch_size=len(many_short), other_keys=0, deadlines=many_deadlines, ttl_ms=SHORT_TTL_MS
)
read_at_s = before_read[-1].server_s - (few_deadlines[0] - SHORT_TTL_MS / 1000)  # the last look before the read
few_before_read = next(row[1] for row in reversed(few) if row[0] <= read_at_s)
few_after_read, many_at_end = few[-1][1], many[-1][1]
print(
    f"experiment 1: {few_before_read:,} of {len(few_short):,} expired keys still in memory "
    f"{read_at_s:.2f} s after the write, {few_after_read:,} after one read of each"
)
print(
    f"experiment 2: {many_at_end:,} of {len(many_short):,} expired keys still in memory "
    f"{many[-1][0]:.2f} s after the write, none read"
)

# %% tags=["verify"]
if lab.is_real:
    assert few_before_read >= 0.5 * len(few_short)  # most of the 9 % stayed in memory, unread
    assert few_after_read == 0 and few[-1][2] >= len(few_short)  # one read removed them all (lazy expiry)
    assert many_at_end <= 0.5 * len(many_short)  # the active cycle swept most of the 44 % out, unread
else:
    assert few_before_read == few_after_read == many_at_end == 0  # fakeredis never counts an expired key
print("Checked: on a real server the few expired keys lingered until read and the many were swept out unread.")

# %%
fig, axes = figure("Expired keys still in memory", lab.client, ncols=2)
for ax, rows, name in (
    (axes[0], few, "1: 1,000 of 11,000 expire (9 %)"),
    (axes[1], many, "2: 8,000 of 18,000 expire (44 %)"),
):
    seconds = [row[0] for row in rows]
    ax.plot(seconds, [row[1] for row in rows], color=PALETTE["slow"], marker=".", label="past TTL, in memory")
    if lab.is_real:
        ax.plot(seconds, [row[2] for row in rows], color=PALETTE["neutral"], linestyle="--", label="expired_keys")
    ax.axvline(SHORT_TTL_MS / 1000, color=PALETTE["muted"], linewidth=1)
    top = max(10, *(row[1] for row in rows), *(row[2] or 0 for row in rows))
    ax.set(title=f"experiment {name}", xlabel="seconds after the write", ylabel="keys", ylim=(-0.03 * top, 1.05 * top))
    ax.spines[["top", "right"]].set_visible(False)
axes[0].axvline(read_at_s, color=PALETTE["fast"], linestyle=":", label="read each key once")
axes[0].legend(fontsize=8, frameon=False, loc="center")
axes[1].legend(fontsize=8, frameon=False, loc="center right")
plt.show()

# %% tags=["verify"]
assert few[-1][1] == few_after_read and many[-1][1] == many_at_end  # the data asserted above is drawn
print("Checked: the figure draws the counts checked above.")

# %% [markdown]
# <details><summary>Answer to the prediction</summary>
#
# On a real server, most of them: the verify cell above requires at least half, and the left panel shows
# the count. The slow cycle samples keys with a TTL, finds under 10 % expired and stops, so the expired keys
# wait for a reader (fakeredis never counts an expired key, so there it is 0).
# </details>
#
# On a real server the picture shows both mechanisms. In experiment 1 the expired keys sit in memory, still
# counted by `DBSIZE`, because the cycle stops as soon as a batch of 20 holds few expired keys; one read of
# each deletes them at once (lazy expiry), and `expired_keys` jumps. In experiment 2 the cycle keeps
# finding expired keys and sweeps them out within a fraction of a second, with no reads at all.
#
# What this means for a cache: **expiry is exact for readers** (an expired key is never returned) **but not
# for memory**. Expired entries can occupy memory for a while, and anything that listens for the `expired`
# keyspace event hears about a key when it is actually deleted, not at its deadline.

# %%
keys.cleanup(lab.client)  # this notebook's keys on the measured server
lab.close()  # stops the private server, if one was started

# %% [markdown]
# ## 4. Fixed or sliding TTL? (core)
#
# A **fixed** TTL is set when the value is cached and never touched again: the value is reloaded every
# TTL, however popular it is. A **sliding** TTL is renewed on every hit (`GETEX ... PX`), so a key that is
# read often enough never expires and only idle keys fall out. More hits, but a popular value is *never*
# refreshed from the database: [notebook 02](02_stale_reads.ipynb) is about what that costs.
#
# For one key read as a random (Poisson) stream of λ reads per second with TTL T, the hit ratios have a
# closed form in λT, the number of reads expected during one TTL:
#
# - fixed TTL: **λT / (1 + λT)** (each fill is followed by the reads of one TTL, about λT hits, then a miss);
# - sliding TTL: **1 - exp(-λT)** (a read hits when the previous read came less than T earlier).
#
# Here are the two reads. On fakeredis, which rounds `GETEX`'s milliseconds, the sliding read uses `GET` and
# `PEXPIRE` in one `MULTI` transaction: the same effect, also atomic.

# %%
TTL_MS = 100


def read_fixed(key):
    """Cache-aside with a fixed TTL; True for a hit."""
    if r.get(key) is not None:
        return True
    r.set(key, "row from the database", px=TTL_MS)  # the TTL is set here, on the fill, only
    return False


def read_sliding(key):
    """Cache-aside with a sliding TTL: every hit renews the TTL; True for a hit."""
    if caps.getex_ms_precision:
        value = r.getex(key, px=TTL_MS)  # read and renew in one command
    else:
        with r.pipeline(transaction=True) as pipe:  # MULTI: GET, PEXPIRE; EXEC
            value, _renewed = pipe.get(key).pexpire(key, TTL_MS).execute()
    if value is not None:
        return True
    r.set(key, "row from the database", px=TTL_MS)
    return False


# %% [markdown]
# The measurement: five groups of keys, read λT = 0.25, 0.5, 1, 2 and 4 times per TTL on average (so
# 2.5 to 40 reads per second per key), every key with its own seeded Poisson stream, about 1,700 reads in
# 1.6 seconds of real time. `replay_on_schedule` calls our two functions at each scheduled moment, so
# every hit and miss comes from the backend you run on expiring real 100 ms TTLs (the figure's title names
# it; the stored copy of this notebook ran on a private real server). Each read goes to a `fixed:` and a
# `sliding:` copy of the key, so both policies see exactly the same stream. The first 0.4 s warm the cache
# up and are not counted. On a busy machine the replay can fall behind: rather than firing the reads it
# owes back to back (which would bunch them up and inflate the hits), it skips a read it reaches more than
# 5 ms late, like a short pause in the traffic. A machine so busy that it skips more than 70 % of the
# reads does not produce the traffic the models describe (its pauses come in bursts), so that run is not
# measured: `replay_on_schedule` starts again from an empty cache, at most three times.

# %%
READS_PER_TTL = [0.25, 0.5, 1, 2, 4]
DURATION_S, WARM_UP_S, COUNTED_PER_GROUP = 1.6, 0.4, 250
group_of_key, read_rates = [], []
for group, reads_per_ttl in enumerate(READS_PER_TTL):
    rate = reads_per_ttl / (TTL_MS / 1000)  # reads per second per key
    n_keys = int(np.ceil(COUNTED_PER_GROUP / (rate * (DURATION_S - WARM_UP_S))))
    group_of_key += [group] * n_keys
    read_rates += [rate] * n_keys
events = poisson_events(read_rates, DURATION_S, seed=1)
print(f"{len(events):,} reads of {len(read_rates)} keys in {DURATION_S} s")


# %%
def read_both(event):
    return read_fixed(keys.key("fixed", event.key)), read_sliding(keys.key("sliding", event.key))


run = replay_on_schedule(events, read_both, reset=lambda: keys.cleanup(r))  # each attempt starts with no keys
hits = np.array([result or (False, False) for result in run.results])  # per read: (fixed hit?, sliding hit?)
event_key = np.array([e.key for e in events])
counted = run.ran & np.array([e.at_s >= WARM_UP_S for e in events])  # ran, after the warm-up
print(f"replayed {len(events):,} scheduled reads for {DURATION_S} s")

# %% [markdown]
# For each group: the measured hit ratio of both policies with its standard error (requests to one key
# are not independent, so the error is computed per key), and λT from the reads that really ran (if the
# replay had to skip some, fewer reads fell in each TTL, and the point moves left instead of off the curve).

# %% tags=["nbval-ignore-output"] output_varies="measured hit ratios carry sampling noise and timing"
measured = []  # (achieved λT, fixed hit ratio, its error, sliding hit ratio, its error)
gaps = []  # (sliding minus fixed on the same reads, its error, what the models say at that λT)
for group in range(len(READS_PER_TTL)):
    in_group = counted & (np.array(group_of_key)[event_key] == group)
    reads_per_ttl = in_group.sum() / (group_of_key.count(group) * (DURATION_S - WARM_UP_S)) * TTL_MS / 1000
    fixed, fixed_error = share_with_error(hits[in_group, 0], event_key[in_group])
    sliding, sliding_error = share_with_error(hits[in_group, 1], event_key[in_group])
    measured.append((reads_per_ttl, fixed, fixed_error, sliding, sliding_error))
    gap, gap_error = mean_with_error(hits[in_group, 1].astype(float) - hits[in_group, 0], event_key[in_group])
    gaps.append((gap, gap_error, sliding_ttl_hit_ratio(reads_per_ttl, 1) - fixed_ttl_hit_ratio(reads_per_ttl, 1)))
for reads_per_ttl, fixed, fixed_error, sliding, sliding_error in measured:
    print(
        f"λT = {reads_per_ttl:4.2f}: fixed {fixed:.3f} ± {fixed_error:.3f} "
        f"(model {fixed_ttl_hit_ratio(reads_per_ttl, 1):.3f}), sliding {sliding:.3f} ± {sliding_error:.3f} "
        f"(model {sliding_ttl_hit_ratio(reads_per_ttl, 1):.3f})"
    )
print(f"attempt {run.attempts}: skipped {run.skipped} of {len(events):,} reads; lateness of the others: {run.lag}")

# %% tags=["verify"]
for reads_per_ttl, fixed, fixed_error, sliding, sliding_error in measured:
    assert abs(fixed - fixed_ttl_hit_ratio(reads_per_ttl, 1)) <= 4 * fixed_error + 0.03, measured
    assert abs(sliding - sliding_ttl_hit_ratio(reads_per_ttl, 1)) <= 4 * sliding_error + 0.03, measured
# Both policies saw the same reads, so their difference is measured read by read, with a small error. It is
# what the models say, and where at least one read per TTL really ran, sliding clearly beats fixed (a replay
# that had to skip reads moves a group to a lower λT, where the two curves are closer).
for (gap, gap_error, model_gap), (reads_per_ttl, *_) in zip(gaps, measured, strict=True):
    assert abs(gap - model_gap) <= 4 * gap_error + 0.03, (gaps, measured)
    assert reads_per_ttl < 1 or gap > 3 * gap_error, (gaps, measured, run.skipped, run.lag)
print("Checked: every hit ratio is within its error bars of its model, and sliding beats fixed from λT = 1 on.")

# %%
curve_x = np.geomspace(0.1, 10, 200)
fig, ax = figure(f"Hit ratio of one key, TTL {TTL_MS} ms", r)
ax.plot(curve_x, fixed_ttl_hit_ratio(curve_x, 1), color=PALETTE["neutral"], label="fixed: λT/(1+λT)")
ax.plot(curve_x, sliding_ttl_hit_ratio(curve_x, 1), color=PALETTE["fast"], label="sliding: 1-exp(-λT)")
points = np.array(measured)
ax.errorbar(
    points[:, 0],
    points[:, 1],
    yerr=2 * points[:, 2],
    fmt="o",
    color=PALETTE["neutral"],
    label="fixed, measured (±2 s.e.)",
)
ax.errorbar(
    points[:, 0],
    points[:, 3],
    yerr=2 * points[:, 4],
    fmt="s",
    color=PALETTE["fast"],
    label="sliding, measured (±2 s.e.)",
)
ax.set(xscale="log", xlabel="λT: reads per TTL (log scale)", ylabel="hit ratio", ylim=(0, 1.02))
ax.legend(fontsize=8, frameon=False)
ax.spines[["top", "right"]].set_visible(False)
plt.show()

# %% tags=["verify"]
assert points.shape == (len(READS_PER_TTL), 5)  # every group is drawn, and each was checked above
print("Checked: the figure draws every group checked above.")

# %% [markdown]
# The measured points sit on the curves, within their error bars (checked above for every one): real
# 100 ms TTLs, expired by the backend named in the title, give the hit ratios the model predicts. Read the
# gap between the curves: at λT = 1 (one read per TTL) a sliding TTL gets about 63 % hits against 50 %,
# and by λT = 4 it almost never misses while a fixed TTL still reloads every 100 ms. The price of sliding:
# a key that is read often is never reloaded, however old its value. The fixed TTL is what bounds
# staleness, which is why [notebook 02](02_stale_reads.ipynb) uses it.
#
# ### Explore it yourself
#
# The explorer below draws one key's life for a read rate and TTL of your choice: shaded while the key is in
# the cache, a green dot for each hit and a red cross for each miss (a database read). It applies the same
# rules to a simulated read stream, so it answers instantly. Move the sliders. (If it does not show up,
# run the cell again.)

# %% tags=["nbval-ignore-output"] output_varies="a live widget: its model id changes on every run"
explorer = ttl_explorer(read_rate=4, ttl_ms=500)
explorer

# %% [markdown]
# The same explorer, driven from code: a key read twice a second with a 2-second TTL (λT = 4).

# %%
view = explorer.set(read_rate=2, ttl_ms=2000)
view.caption()

# %% tags=["verify"]
assert abs(view.fixed_hit_ratio - 4 / 5) < 1e-9 and abs(view.sliding_hit_ratio - (1 - np.exp(-4))) < 1e-9
assert view.sliding.hit_ratio >= view.fixed.hit_ratio  # the same reads: sliding never hits less
assert explorer.caption.value == view.caption() and explorer.image.value  # the widget shows this view
print("Checked: the explorer's numbers are the closed forms, and sliding never hit less than fixed.")

# %% [markdown]
# ## 5. Synchronised expiry, and TTL jitter (core)
#
# A batch job warms the cache with 1,000 product rows, all with the same TTL. They were written within a
# moment of each other, so they expire within the same moment, and the next 1,000 reads all miss at once:
# the database gets the whole batch back in one burst. The usual fix is **jitter**: add a random
# amount to each TTL so that the expirations spread out (AWS's guidance: e.g. 3,600 s plus 0 to 120 s).
#
# Below: 1,000 keys with a 300 ms TTL, then 1,000 keys with 300 ms plus a random 0 to 300 ms. Every 20 ms
# we count how many of each group are still there (`EXISTS` with all 1,000 names answers that count).

# %%
BATCH, BATCH_TTL_MS, JITTER_MS = 1_000, 300, 300
rng = np.random.default_rng(5)
plain_keys = [keys.key("product", "plain", i) for i in range(BATCH)]
jittered_keys = [keys.key("product", "jittered", i) for i in range(BATCH)]
jittered_ttls_ms = BATCH_TTL_MS + rng.integers(0, JITTER_MS, size=BATCH)  # 300 to 599 ms

load_started = time.perf_counter()
with r.pipeline(transaction=False) as pipe:
    for name in plain_keys:
        pipe.set(name, "row", px=BATCH_TTL_MS)  # the same TTL for all
    pipe.execute()
plain_loaded_s = time.perf_counter() - load_started
with r.pipeline(transaction=False) as pipe:
    for name, ttl_ms in zip(jittered_keys, jittered_ttls_ms, strict=True):
        pipe.set(name, "row", px=int(ttl_ms))  # each with its own TTL
    pipe.execute()
loaded_s = time.perf_counter() - load_started

looks = []  # (sent at, answered at, plain keys left, jittered keys left), seconds after the load started
while not looks or (looks[-1][2:] != (0, 0) and looks[-1][0] < 2.0):
    sent = time.perf_counter() - load_started
    left = r.exists(*plain_keys), r.exists(*jittered_keys)
    looks.append((sent, time.perf_counter() - load_started, *left))
    time.sleep(0.02)
print(f"{2 * BATCH:,} keys loaded and watched until none was left")

# %% tags=["verify"]
assert looks[-1][2:] == (0, 0)  # every key of both groups has expired
print("Checked: every key of both groups expired while we watched.")

# %% [markdown]
# The claims, checked against every look (a look is a time window, from sending `EXISTS` to its answer):
# no plain key died before 300 ms after its write, and all of them were gone once the load that wrote them
# had ended 300 ms earlier: they died **within the time it took to write them**. Each jittered key died at
# its own TTL, between 300 and 600 ms after its write.

# %% tags=["nbval-ignore-output"] output_varies="the load and look times are measured"
print(f"plain keys written in {plain_loaded_s * 1000:.0f} ms, and they expired within those milliseconds")
print(f"jittered keys expired over {(jittered_ttls_ms.max() - jittered_ttls_ms.min())} ms (their TTLs' spread)")

# %% tags=["verify"]
SLACK_S = 0.002  # Redis keeps deadlines in whole milliseconds
jittered_start_s = plain_loaded_s  # the jittered keys were written after the plain ones
for sent, answered, plain_left, jittered_left in looks:
    if answered < BATCH_TTL_MS / 1000 - SLACK_S:
        assert plain_left == BATCH  # none of the plain keys died early
    if sent > plain_loaded_s + BATCH_TTL_MS / 1000 + SLACK_S:
        assert plain_left == 0  # and all of them died within the time it took to write them
    # each jittered key is there exactly while its own TTL runs (written between plain_loaded_s and loaded_s)
    surely_alive = np.sum(jittered_ttls_ms / 1000 + jittered_start_s > answered + SLACK_S)
    maybe_alive = np.sum(jittered_ttls_ms / 1000 + loaded_s > sent - SLACK_S)
    assert surely_alive <= jittered_left <= maybe_alive
print("Checked: at every look, the plain keys died within their load's time and each jittered key at its own TTL.")

# %% [markdown]
# The picture: expirations per 25 ms bucket. A look only tells how many keys died since the previous
# look, so those deaths are spread evenly over the time between the two looks, and never before 300 ms
# (no key's TTL is shorter).

# %%
BUCKET_MS = 25
after_ttl = [look for look in looks if look[1] * 1000 > BATCH_TTL_MS]  # no key can die before 300 ms
answered_ms = np.array([0.0, BATCH_TTL_MS] + [look[1] * 1000 for look in after_ttl])
edges = np.arange(0, answered_ms.max() + BUCKET_MS, BUCKET_MS)
per_bucket = {}
for name, column in (("plain", 2), ("jittered", 3)):
    died_so_far = BATCH - np.array([BATCH, BATCH] + [look[column] for look in after_ttl])  # at each look
    per_bucket[name] = np.diff(np.interp(edges, answered_ms, died_so_far))  # spread evenly between looks
fig, ax = figure(f"Expirations per {BUCKET_MS} ms of {BATCH:,} keys loaded together", r)
ax.bar(
    edges[:-1],
    per_bucket["plain"],
    width=BUCKET_MS,
    align="edge",
    color=PALETTE["slow"],
    alpha=0.8,
    label=f"same TTL ({BATCH_TTL_MS} ms)",
)
ax.bar(
    edges[:-1],
    per_bucket["jittered"],
    width=BUCKET_MS,
    align="edge",
    color=PALETTE["fast"],
    alpha=0.8,
    label=f"TTL + jitter (0 to {JITTER_MS} ms)",
)
ax.set(xlabel="ms after the load started", ylabel="keys that expired", xlim=(0, edges[-1]))
ax.legend(fontsize=8, frameon=False)
ax.spines[["top", "right"]].set_visible(False)
plt.show()

# %% tags=["verify"]
assert np.isclose(per_bucket["plain"].sum(), BATCH) and np.isclose(per_bucket["jittered"].sum(), BATCH)
assert per_bucket["plain"][: BATCH_TTL_MS // BUCKET_MS].sum() == 0  # nothing drawn before the TTL
print("Checked: each group's bars add up to its 1,000 keys, none drawn before 300 ms.")

# %% [markdown]
# Without jitter the whole batch comes back to the database in one spike; with jitter the same reloads
# arrive spread over the jitter window, a few at a time.
#
# What jitter does **not** fix: one hot key. It has one TTL, jittered or not, and when it expires every
# request that arrives before it is reloaded misses together. That is a *stampede*; [notebook 05](05_stampedes.ipynb)
# measures it and fixes it with locks and early refresh.

# %% [markdown]
# ## Your turn
#
# ### Exercise 01.1: Change a user's city (core, about 10 min)
#
# Users can change their city. The profile page caches each profile as JSON under `keys.key("user", id)`
# with a TTL (cache-aside, as in notebook 00). Write `update_city(user_id, city)` for the write path.
#
# It is tempting to edit the cached copy in place (GET it, change the city, SET it back with `KEEPTTL`).
# Don't: that is a read-modify-write of the cache, so two concurrent updates of one profile can lose one
# of their changes, and it writes the cache from the application's idea of the row rather than from the
# database. [Notebook 03](03_invalidation.ipynb) replays those races. The habit to learn instead:
#
# - write the database first: `db.update_user(user_id, city=city)`;
# - then **delete** the cached copy, so that the next read misses and loads the whole, fresh row.
#
# Replace the `raise NotImplementedError(...)` line, run the cell, then run the check below it. Stuck
# after a real try? The worked solution is in [solutions/01_ttl_expiry.py](solutions/01_ttl_expiry.py).


# %% tags=["exercise"]
def update_city(user_id, city):
    """Change the user's city in the database, then drop the cached profile."""
    # BEGIN SOLUTION
    db.update_user(user_id, city=city)  # 1. the database is the truth
    r.delete(keys.key("user", user_id))  # 2. the next read loads the fresh row
    # END SOLUTION


# %% tags=["check"]
check_update_city(update_city, cache=r, db=db, keys=keys)

# %% [markdown]
# ### Exercise 01.2: A sliding-TTL read with GETEX (core, about 10 min)
#
# Section 4's `read_sliding` only said hit or miss. Write the real thing, `read_profile_sliding(user_id)`:
# cache-aside for the JSON profile under `keys.key("user", user_id)` with a **sliding** TTL of
# `SLIDING_TTL_S` (60 s):
#
# - on a hit, read the value **and** renew its TTL to `SLIDING_TTL_S` in one command (`r.getex`, section 1),
#   and return the profile;
# - on a miss, read `db.get_user(user_id)`, store its JSON with `ex=SLIDING_TTL_S`, and return it.
#
# The check reads a profile cached with a few seconds left and requires one `GETEX` that renewed it, no
# database query on a hit, and one query and a 60 s TTL on a miss. Solution:
# [solutions/01_ttl_expiry.py](solutions/01_ttl_expiry.py).

# %% tags=["exercise"]
SLIDING_TTL_S = 60


def read_profile_sliding(user_id):
    """Cache-aside with a sliding TTL: every hit renews the TTL in the same command."""
    # BEGIN SOLUTION
    key = keys.key("user", user_id)
    cached = r.getex(key, ex=SLIDING_TTL_S)  # read and renew: one command
    if cached is not None:
        return json.loads(cached)
    profile = db.get_user(user_id)
    r.set(key, json.dumps(profile), ex=SLIDING_TTL_S)
    return profile
    # END SOLUTION


# %% tags=["check"]
check_sliding_read(read_profile_sliding, cache=r, db=db, keys=keys)

# %% [markdown]
# ## Summary
#
# - `SET ... EX/PX/EXAT`, `EXPIRE`, `PERSIST` and `GETEX` set or change a lifetime; `PTTL` reads it in
#   milliseconds (`TTL` rounds); -1 means no TTL, -2 no key.
# - In-place changes (`INCR`, `HSET`) keep a TTL; a plain `SET` **drops** it, unless `KEEPTTL`.
#   `EXPIRE ... GT` extends without ever shortening (Redis 7+; a Lua script on 6.2).
# - An expired key is never returned, but it may stay in memory: it is deleted when accessed, or by the
#   active cycle, which sweeps hard only while many of the keys it looks at are expired.
# - A sliding TTL gets more hits than a fixed one (1-exp(-λT) against λT/(1+λT), measured above), at the
#   price of never reloading a popular value; a fixed TTL bounds how old a value can get. `GETEX ... EX`
#   reads and renews in one command (exercise 01.2).
# - On a write, update the database and then delete the cached copy (exercise 01.1), rather than editing
#   the copy in place.
# - Keys written together expire together; jitter spreads the reloads. It does not help a single hot key.
#
# ## Further reading
#
# - Redis docs: [`EXPIRE`](https://redis.io/docs/latest/commands/expire/) (options, and how keys expire),
#   [`SET`](https://redis.io/docs/latest/commands/set/), [`GETEX`](https://redis.io/docs/latest/commands/getex/).
# - The active expire cycle in the Redis source: [`src/expire.c`](https://github.com/redis/redis/blob/7.0/src/expire.c).
# - AWS whitepaper *Database Caching Strategies Using Redis*, section [Cache validity](https://docs.aws.amazon.com/whitepapers/latest/database-caching-strategies-using-redis/cache-validity.html)
#   (TTLs and jitter).
# - Next: [notebook 02](02_stale_reads.ipynb) measures what a TTL costs in stale reads.
#
# ## Cleanup
#
# Delete every key this notebook wrote (found by `SCAN` over `rcp:01:<you>:*`, nothing else). The private server of
# section 3, if one was started, is already stopped.

# %%
deleted = keys.cleanup(r)
print(f"deleted this notebook's keys under {keys.notebook_prefix}")

# %% tags=["verify"]
assert keys.count(r) == 0
print("Checked: no key of this notebook is left on the server.")
