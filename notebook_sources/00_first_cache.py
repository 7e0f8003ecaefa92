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
# # 00 · Your first cache: cache-aside in five minutes
#
# A profile page reads its user from the database on every view. Each read crosses the network, so every
# view pays the database's latency and adds to its load. In this notebook you put Redis in front of that
# lookup with the **cache-aside** pattern, and measure what it buys you.
#
# **What you'll build:** `get_profile(user_id)`, a cache-aside lookup: ask Redis first, and only on a miss
# read the database and remember the answer for a while.
#
# **What you'll learn**
#
# 1. How slow the uncached lookup is, in latency and in database queries.
# 2. How to write cache-aside with redis-py: `GET`, and on a miss read the database and `SET ... EX`.
# 3. How much faster it is, and how many database queries it saves, measured.
# 4. What a cached entry is made of: a hit, a miss, the key and its TTL.
# 5. How to tell which Redis you are on, and how to switch to a real server.
#
# **What you'll need:** basic Python (functions, dicts). No Redis experience.
# **Time to learn**: about 50 min (core path: about 35 min).
#
# **How to run it:** run the cells from top to bottom with Shift-Enter. If a result ever looks wrong,
# choose **Kernel → Restart Kernel and Run All Cells**: it replays the notebook from a clean state, exactly
# as the tests do.

# %% [markdown]
# ## Setup
#
# Three objects carry the whole series:
#
# - `r` is a Redis client. With no `REDIS_URL` set it is **fakeredis**, a Redis that lives inside this Python
#   process, so nothing needs installing; the line printed below says which backend you are on.
# - `keys` names every key this notebook writes (they all start with `rcp:00:` and then your learner name,
#   so a room of learners can share one server), and the Cleanup at the end removes exactly those.
# - `db` is the **primary database**: a real SQLite database with 1,000 users. Each query waits 15 ms,
#   a *simulated* network round trip, so it behaves like a database on another machine.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend: fakeredis or a real server"
import json
import os

import matplotlib.pyplot as plt

from helpers.core.backend import backend_info, connect
from helpers.core.capabilities import capabilities
from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.core.timing import summarize, time_calls
from helpers.core.workloads import zipf_requests
from helpers.exercises.nb00_first_cache import check_display_name, check_missing_user
from helpers.viz.plots import PALETTE, bars, figure

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("00")  # every key of this notebook starts with rcp:00:
db = PrimaryDatabase(users=1000, delay_ms=15)  # SQLite, 15 ms of simulated latency per query
db

# %% tags=["verify"]
assert backend_info(r).is_real == bool(os.environ.get("REDIS_URL"))
print("Checked: the backend is a real server exactly when REDIS_URL names one.")

# %% [markdown]
# ## 1. The slow lookup (core)
#
# One profile, straight from the database:

# %%
db.get_user(42)

# %% [markdown]
# A profile page is viewed over and over, and some users far more than others. `requests` is a seeded
# stream of 100 profile views over 20 users, the popular ones viewed most (a Zipf distribution: the same
# seed gives the same stream on every run).
#
# **Predict** before you run the next cells: with 15 ms per query, about how long do 100 uncached views take,
# and how many database queries do they make?

# %%
requests = [int(rank) + 1 for rank in zipf_requests(n_keys=20, skew=1.0, n_requests=100, seed=0)]
print(f"{len(requests)} views of {len(set(requests))} distinct users; the first ten: {requests[:10]}")


# %%
def get_profile_uncached(user_id):
    return db.get_user(user_id)


db.reset_counters()
uncached_ms = time_calls(get_profile_uncached, requests)
uncached_queries = db.query_count
uncached_queries

# %% tags=["nbval-ignore-output"] output_varies="measured latencies differ from run to run"
uncached = summarize(uncached_ms)
print(f"without a cache: {uncached}")

# %% tags=["verify"]
assert uncached_queries == len(requests)
assert uncached.p50_ms >= db.delay_ms
print("Checked: every uncached view made one database query and waited at least the 15 ms it costs.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# At least 100 × 15 ms = 1.5 s, and exactly 100 queries: one per view, however often the same user is
# asked for. The median printed above is at least 15 ms: the simulated delay, plus the query itself.
# </details>
#
# Every view paid the full database round trip, and the database answered every one of them, even though
# most views asked for a user it had just been asked about.
#
# ## 2. Cache-aside (core)
#
# Cache-aside (also called *lazy loading*) keeps the application in charge: the cache is asked first, the
# database only when the cache does not have the answer, and the answer is then stored in the cache with a
# **TTL** (time to live). Once the TTL has run out, Redis never returns the key again: the next read is a
# miss (when Redis actually frees the memory is another story, told in [notebook 01](01_ttl_expiry.ipynb)).
#
# ```mermaid
# sequenceDiagram
#     participant App as get_profile(42)
#     participant Redis
#     participant DB as SQLite (primary database)
#     App->>Redis: GET rcp:00:user:42
#     alt hit
#         Redis-->>App: the cached profile (JSON)
#     else miss
#         Redis-->>App: nil
#         App->>DB: SELECT * FROM users WHERE id = 42
#         DB-->>App: the row
#         App->>Redis: SET rcp:00:user:42 <json> EX 60
#     end
# ```
#
# Redis has no "dict" type for a Python object, so here the profile goes into a Redis **string** as JSON
# text and comes back out with `json.loads`: one `GET` reads it all. A Redis **hash** (`HSET`/`HGETALL`) is
# the other common choice; it lets you read or change one field, and notebooks 01 and 03 use it.

# %%
PROFILE_TTL_S = 60


def get_profile(user_id):
    key = keys.key("user", user_id)  # e.g. "rcp:00:ada-3f9c:user:42"
    cached = r.get(key)  # 1. ask the cache
    if cached is not None:
        return json.loads(cached)  # hit: no database query at all
    profile = db.get_user(user_id)  # 2. miss: ask the database
    r.set(key, json.dumps(profile), ex=PROFILE_TTL_S)  # 3. keep it for 60 seconds
    return profile


# %% [markdown]
# ## 3. Before and after, measured (core)
#
# The same 100 views, now through `get_profile`, starting from an empty cache:

# %%
keys.cleanup(r)  # start cold: no cached profiles
db.reset_counters()
cached_ms = time_calls(get_profile, requests)
cached_queries = db.query_count
print(f"database queries without a cache: {uncached_queries}")
print(f"database queries with cache-aside: {cached_queries} (one per distinct user)")

# %% tags=["verify"]
assert cached_queries == len(set(requests))
print("Checked: cache-aside made exactly one database query per distinct user, on its first view.")

# %% tags=["nbval-ignore-output"] output_varies="measured latencies differ from run to run and between backends"
cached = summarize(cached_ms)
speedup = uncached.p50_ms / cached.p50_ms
where = "a network round trip to Redis" if backend_info(r).is_real else "a lookup inside this process (no network)"
print(f"without a cache:  {uncached}")
print(f"with cache-aside: {cached}")
print(f"the median view is {speedup:.0f}x faster here, where a hit is {where}")

# %% tags=["verify"]
assert speedup > 5
print("Checked: the median cached view is more than 5 times faster than the median uncached one.")

# %% [markdown]
# How much faster depends on where the cache is. On fakeredis (the default) a hit never leaves this Python
# process, so the speed-up above is larger than a real deployment sees. On a real server a hit costs one
# network round trip: still far below a 15 ms database query, but the ratio is smaller. Run the notebook
# with `REDIS_URL` set (section 5) to measure yours. What does not depend on the backend is the count:
# one database query per distinct user instead of one per view.
#
# The picture: each dot on the left is one view, in order. Without a cache every view costs a database
# round trip. With cache-aside only the first view of each user does (the misses); every later view is a
# hit. On the right, the load the database was spared.

# %%
fig, (timeline, load) = figure("100 profile views", r, ncols=2)
timeline.scatter(range(len(uncached_ms)), uncached_ms, s=12, color=PALETTE["slow"], label="no cache")
timeline.scatter(range(len(cached_ms)), cached_ms, s=12, color=PALETTE["fast"], label="cache-aside")
timeline.set(yscale="log", xlabel="view number", ylabel="latency (ms, log scale)")
timeline.legend(loc="center right")
bars(
    load,
    ["no cache", "cache-aside"],
    [uncached_queries, cached_queries],
    colors=[PALETTE["slow"], PALETTE["fast"]],
    unit="queries",
)
load.set(ylabel="database queries")
plt.show()

# %% [markdown]
# ## 4. Taken apart: miss, hit, key and TTL (core)
#
# **Predict:** user 7 is not cached. How many database queries do two calls of `get_profile(7)` make?

# %%
profile_key = keys.key("user", 7)
r.delete(profile_key)
db.reset_counters()
get_profile(7)
after_first = db.query_count  # a miss: read from the database, then stored
get_profile(7)
after_second = db.query_count  # a hit: Redis answered, the database was not asked
after_first, after_second

# %% tags=["verify"]
assert (after_first, after_second) == (1, 1)
print("Checked: the first call of get_profile(7) queried the database once and the second not at all.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# One. The first call misses, reads the database and stores the profile; the second finds it in Redis.
# The query counter reads 1 after each call.
# </details>
#
# What is stored is a plain Redis string under the key `keys.key("user", 7)` (`rcp:00:<you>:user:7`): the
# JSON text of the row.

# %%
r.get(profile_key)

# %% [markdown]
# `TTL` tells how many seconds the key has left to live. It counts down from the 60 given to
# `SET ... EX`; when it reaches zero the next `get_profile(7)` is a miss again and re-reads the database.
# (`TTL` answers `-2` for a key that does not exist and `-1` for a key that never expires;
# [notebook 01](01_ttl_expiry.ipynb) is all about TTLs.)

# %%
r.delete(profile_key)
get_profile(7)  # a miss stores a fresh copy with a 60 s TTL
r.ttl(profile_key), r.type(profile_key)

# %%
r.ttl(keys.key("user", "no-such-user"))

# %% [markdown]
# ## 5. Which Redis am I on? (going deeper)
#
# The line printed by the setup cell names the backend. By default it is fakeredis: the same commands, run
# inside this Python process. (The copy of this notebook you may be reading on GitHub or the website was run
# on a private real server, which is why its stored outputs name one.) To run the notebook against a real server:
#
# 1. Start one, for example `docker compose up -d redis` from the project folder (or any Redis you own).
# 2. Set `REDIS_URL=redis://localhost:6379/0` in the environment that starts JupyterLab
#    (`REDIS_URL=redis://localhost:6379/0 make lab`).
# 3. **Restart the kernel and run all cells.**
#
# Everything in this notebook behaves the same on both. Some later notebooks need what only a real server
# has; they ask the backend what it can do and say so when they fall back:

# %% tags=["nbval-ignore-output"] output_varies="fakeredis lacks INFO, CONFIG, eviction and more"
caps = capabilities(r)
caps.summary()

# %% tags=["verify"]
assert caps.info == caps.backend.is_real
print("Checked: the capability probe finds INFO on a real server and not on fakeredis.")

# %% [markdown]
# ## Your turn
#
# ### Exercise 00.1: Cache the display name (core, about 10 min)
#
# The site header shows each user's **display name** on every page. Write `get_display_name(user_id)` with
# cache-aside:
#
# - store only the name (a plain string, no JSON) under `keys.key("name", user_id)`,
# - with a TTL of `NAME_TTL_S` = 300 seconds,
# - and read the database only on a miss.
#
# Replace the `raise NotImplementedError(...)` line, run the cell, then run the check below it. The check
# calls your function for a few users and tells you what to fix. Stuck after a real try? The worked
# solution is in [solutions/00_first_cache.py](solutions/00_first_cache.py).

# %% tags=["exercise"]
NAME_TTL_S = 300


def get_display_name(user_id):
    """Return the user's name, from Redis when it is cached."""
    # BEGIN SOLUTION
    key = keys.key("name", user_id)
    name = r.get(key)
    if name is None:
        name = db.get_user(user_id)["name"]
        r.set(key, name, ex=NAME_TTL_S)
    return name
    # END SOLUTION


# %% tags=["check"]
check_display_name(get_display_name, cache=r, db=db, keys=keys)

# %% [markdown]
# ### Exercise 00.2: Remember that a user does not exist (going deeper, about 10 min)
#
# `db.get_user(user_id)` returns `None` for an id with no user. `get_profile` never caches that answer, so
# every view of a missing profile (a typo in a link, a deleted account, a bot trying ids) goes to the
# database: with cache-aside as written, the ids that do *not* exist are exactly the ones never cached.
#
# Write `get_profile_or_none(user_id)`, cache-aside that also caches the miss:
#
# - a user that exists is cached as in `get_profile`: JSON under `keys.key("user", user_id)`, TTL
#   `PROFILE_TTL_S` (60 s);
# - a user that does not exist is cached under the same key too, as the JSON of `None` (`"null"`), with
#   the **shorter** TTL `MISSING_TTL_S` (30 s), so that an account created a moment later shows up soon;
# - it returns the profile dict, or `None`; two calls for a missing id make one database query.
#
# The check below calls it for users that exist and ids that do not, and counts the database queries.
# Solution: [solutions/00_first_cache.py](solutions/00_first_cache.py).

# %% tags=["exercise"]
PROFILE_TTL_S, MISSING_TTL_S = 60, 30


def get_profile_or_none(user_id):
    """Return the user's profile, or None if there is no such user; both answers are cached."""
    # BEGIN SOLUTION
    key = keys.key("user", user_id)
    cached = r.get(key)
    if cached is not None:
        return json.loads(cached)  # a profile, or None for "no such user"
    profile = db.get_user(user_id)
    r.set(key, json.dumps(profile), ex=PROFILE_TTL_S if profile is not None else MISSING_TTL_S)
    return profile
    # END SOLUTION


# %% tags=["check"]
check_missing_user(get_profile_or_none, cache=r, db=db, keys=keys)

# %% [markdown]
# ## Summary
#
# - **Cache-aside**: `GET` the key; on a hit return it; on a miss read the database, `SET key value EX ttl`,
#   return it. The application owns the logic; Redis only stores and expires.
# - You measured it: the database answered only the first view of each user, and the median view became
#   many times faster (the exact figure is in section 3; it depends on your machine and backend).
# - A cached entry is a key (`rcp:00:<you>:user:7`), a value (JSON text) and a TTL that counts down to a miss.
# - "No such user" is an answer worth caching too, with a shorter TTL (exercise 00.2), or every lookup of a
#   missing id reaches the database.
# - The TTL is the only thing that refreshes the copy here: if the database row changes, the cache keeps
#   serving the old profile until the TTL ends. That trade-off is the subject of the next notebooks.
#
# ## Further reading
#
# - Redis docs, [client-side caching and cache-aside](https://redis.io/docs/latest/develop/clients/client-side-caching/)
#   and [`SET`](https://redis.io/docs/latest/commands/set/) (its `EX`, `PX`, `NX` and `KEEPTTL` options).
# - redis-py, [the Python client](https://redis.readthedocs.io/en/stable/).
# - AWS,
#   [caching strategies: lazy loading and write-through](https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Strategies.html).
#
# ## Cleanup
#
# Delete every key this notebook wrote (found by `SCAN` over `rcp:00:<you>:*`, nothing else), so the notebook can
# be re-run from a clean state and nothing is left on a shared server.

# %%
deleted = keys.cleanup(r)
print(f"deleted {deleted} keys under {keys.notebook_prefix}")

# %% tags=["verify"]
assert keys.count(r) == 0
print("Checked: no key of this notebook is left on the server.")
