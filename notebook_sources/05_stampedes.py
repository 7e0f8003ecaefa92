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
# # 05 · Cache stampedes: the herd reproduced, then tamed rung by rung
#
# What happens when a hot key expires under load? Every request that arrives while the value is being
# rebuilt finds the cache empty, and every one of them goes to the database to rebuild it. That is a
# **cache stampede** (also *thundering herd* or *dog-piling*): the moment the cache is needed most, the
# database gets all the traffic at once. In this notebook you reproduce one with 50 concurrent clients,
# then climb a ladder of defences and measure each under the same load.
#
# **What you'll build:** six ways to read one hot key (naive cache-aside, in-process single-flight, a Redis
# mutex, a lease, XFetch early recomputation and stale-while-revalidate), a herd of 50 clients to run
# against each, and one table and one figure that compare them.
#
# **What you'll learn**
#
# 1. Why a hot key's expiry becomes a herd, and how big it gets: about request rate × recompute time.
# 2. How to let exactly one caller recompute: single-flight in a process, a Redis mutex with a token and a
#    compare-and-delete release, and a lease.
# 3. How to refresh before anyone has to wait: XFetch (probabilistic early recomputation) and
#    stale-while-revalidate with stale-if-error.
# 4. How the rungs compare under the same load, and what each does when a lock holder crashes or the
#    database fails.
# 5. Why TTL jitter solves a different problem (many keys expiring together), and what the Python caching
#    libraries you may already use do.
#
# **What you'll need:** [notebook 00](00_first_cache.ipynb) (cache-aside with `GET` and `SET ... PX`), and the idea of
# threads running at the same time.
#
# **Time to learn**: about 95 min (core path: about 60 min).
#
# **How to run it:** top to bottom with Shift-Enter; each herd runs for under half a second. If a result
# ever looks wrong, choose **Kernel → Restart Kernel and Run All Cells**.

# %% [markdown]
# ## Setup
#
# As in [notebook 00](00_first_cache.ipynb): `r` is the Redis client (fakeredis unless `REDIS_URL` names a server),
# `keys` names every key this notebook writes (`rcp:05:...`), and `db` is the SQLite primary database. Here each query
# waits **40 ms of simulated latency**, standing in for an expensive query: that is the time it takes to
# rebuild the cached value.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend (fakeredis or a real server)"
import json
import random
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

import matplotlib.pyplot as plt
import numpy as np

from helpers.core.backend import connect, new_connection
from helpers.core.capabilities import capabilities
from helpers.core.keys import KeySpace
from helpers.core.primary_db import DatabaseUnavailable, PrimaryDatabase
from helpers.exercises.nb05_stampedes import XFETCH_TTL_S, check_lock_protected_fill, check_xfetch_with_lock
from helpers.harness.herd import Herd
from helpers.harness.herd_results import format_table
from helpers.sim.xfetch import sweep_xfetch
from helpers.viz.plots import PALETTE, figure
from helpers.viz.stampede_plots import plot_expiry_spread, plot_in_flight, plot_ladder, plot_pile_up, plot_xfetch_sweep

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("05")  # every key of this notebook starts with rcp:05:
db = PrimaryDatabase(users=100, delay_ms=40)  # SQLite; every query waits 40 ms (simulated latency)
db

# %% tags=["verify"]
assert capabilities(r).lua  # the mutex and the lease below run Lua scripts: fakeredis and Redis both can
print("Checked: this backend runs Lua scripts (the mutex and the lease need them).")

# %% [markdown]
# ## 1. The herd, reproduced (core)
#
# The front page shows one featured profile, so every request reads the same key: a **hot key**. Building
# its value means a database query. Each cached value carries `computed_at`, the moment it was computed,
# so that later we can tell a fresh value from a stale one.

# %%
HOT_USER = 42
HOT_KEY = keys.key("featured", HOT_USER)
HOT_TTL_MS = 10_000  # a fresh value lives 10 s


def recompute():
    """The slow part: one database query (40 ms of simulated latency)."""
    return {"user": db.get_user(HOT_USER), "computed_at": time.time()}


OLD_VALUE = recompute()  # the value every client has been reading before the herd arrives
OLD_VALUE["user"]["name"]


# %% [markdown]
# The first rung is [notebook 00](00_first_cache.ipynb)'s cache-aside, unchanged. It takes the connection to use as an
# argument, because each client in the herd has its own.

# %%
def naive_get(conn):
    cached = conn.get(HOT_KEY)
    if cached is not None:
        return json.loads(cached)  # a hit
    value = recompute()  # a miss: every client that misses recomputes
    conn.set(HOT_KEY, json.dumps(value), px=HOT_TTL_MS)
    return value


# %% [markdown]
# The **herd** is `helpers.harness.herd.Herd`: 50 threads, each with its own Redis connection, held at a barrier
# and released together. Each client then calls the read function you give it, about every 10 ms, for
# 400 ms, and the herd records every read (latency, value, error) and every database query. Just before
# the release, a `prime` function stores the value the clients have been reading, with 250 ms left to live,
# so the key expires while the herd is reading it.

# %%
CLIENTS = 50
herd = Herd(r, db, clients=CLIENTS, think_ms=10, life_ms=250, window_ms=400, seed=5)
herd


# %%
def naive_prime(life_ms):
    """Before the release: the hot key holds the old value, with life_ms left to live."""
    r.set(HOT_KEY, json.dumps(OLD_VALUE), px=round(life_ms))


# %% [markdown]
# **Predict:** when the key expires, each client is reading it every 10 ms or so, and rebuilding it takes
# 40 ms. How many of the 50 clients will query the database?

# %% tags=["nbval-ignore-output"] output_varies="how many reads fit in the window and how many clients missed"
naive = herd.run(naive_get, prime=naive_prime)
print(f"{naive.read_count} reads by {CLIENTS} clients; one expiry; {naive.recomputations} database queries")

# %% tags=["verify"]
assert naive.hung_clients == 0 and naive.errors == 0
assert naive.recomputations >= 0.8 * CLIENTS  # the herd: (nearly) every client rebuilt the same value
print("Checked: no client hung or failed, and at least 80 % of the 50 clients queried the database.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Nearly all of them (the count above). Every client reads at least once during the 40 ms rebuild, finds
# the key empty, and rebuilds it too.
#
# </details>
#
# How big does a herd get? Every read that arrives while the value is being rebuilt misses too, so
# **pile-up ≈ request rate × recompute time**: at 10 requests per second and a 3 s recomputation, 30.
# A client waiting for its own recomputation sends nothing else, so with 50 clients the pile-up cannot
# exceed 50; the herd above read fast enough to hit that ceiling. Two slower herds (each client reading
# every 200 ms and every 80 ms) test the estimate below the ceiling:

# %%
slower = [
    herd.run(naive_get, prime=naive_prime, think_ms=think_ms, life_ms=100, window_ms=250) for think_ms in (200, 80)
]
pile_ups = [*slower, naive]
estimates = [result.read_rate_per_s * result.recompute_ms / 1000 for result in pile_ups]
expected = [min(estimate, CLIENTS) for estimate in estimates]
measured = [result.recomputations for result in pile_ups]

# %% tags=["nbval-ignore-output"] output_varies="measured rates and counts depend on thread timing"
for result, estimate, count in zip(pile_ups, estimates, measured, strict=True):
    print(
        f"{result.read_rate_per_s:6.0f} reads/s × {result.recompute_ms:.0f} ms = {estimate:5.1f} expected "
        f"(at most {CLIENTS}), {count:2d} measured"
    )

# %% tags=["verify"]
assert all(0.5 * e - 2 <= m <= 2 * e + 3 for e, m in zip(expected, measured, strict=True))  # about the estimate
assert measured[0] < measured[2] and measured[1] < measured[2]  # more reads per recompute time, a bigger herd
print("Checked: each herd's query count is within a factor of two of rate × recompute time (capped at 50), "
      "and the fastest herd is the biggest.")

# %% [markdown]
# The picture: on the left, the database's view of the fast herd (queries in flight, millisecond by
# millisecond). Nothing for 250 ms while every read is a hit, then the whole herd at once. On the right,
# the three herds against the estimate.

# %%
fig, (timeline, estimate_ax) = figure("One hot key expires under 50 clients", r, ncols=2)
in_flight = plot_in_flight(timeline, naive, label="naive cache-aside")
plot_pile_up(estimate_ax, estimates, measured, clients=CLIENTS)
plt.show()

# %% tags=["verify"]
assert in_flight.max() >= CLIENTS / 2 and in_flight[: int(naive.expires_at_s * 1000)].max() == 0
print("Checked: no query before the expiry, then at least 25 in flight at once.")


# %% [markdown]
# ## 2. One recomputation per expiry (core)
#
# The herd is wasted work: 50 queries for one value. The next three rungs make sure one caller rebuilds
# the value and the others use its result.
#
# ### 2.1 In-process single-flight (core)
#
# Inside one process, concurrent callers can share one in-flight load (Instagram calls it *promises*, Go's
# `singleflight` package gives it its name). The first caller to miss becomes the **leader** and loads the
# value; callers that miss while it works wait on the leader's `Future` instead of querying themselves.
# The leader reads the key once more before querying, in case it was filled a moment ago.

# %%
class SingleFlight:
    """One process's in-flight loads: callers that miss at the same time share one recomputation."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = {}  # key -> Future of the value being loaded

    def get(self, conn):
        cached = conn.get(HOT_KEY)
        if cached is not None:
            return json.loads(cached)
        with self.lock:
            future = self.in_flight.get(HOT_KEY)
            leader = future is None
            if leader:
                future = self.in_flight[HOT_KEY] = Future()
        if leader:
            try:
                cached = conn.get(HOT_KEY)  # filled while we became the leader?
                if cached is not None:
                    value = json.loads(cached)
                else:
                    value = recompute()
                    conn.set(HOT_KEY, json.dumps(value), px=HOT_TTL_MS)
                future.set_result(value)
            except Exception as exc:
                future.set_exception(exc)  # the followers get the error instead of waiting forever
            finally:
                with self.lock:
                    del self.in_flight[HOT_KEY]
        return future.result(timeout=2)  # followers wait for the leader's value


# %%
single_flight = herd.run(SingleFlight().get, prime=naive_prime)
single_flight.recomputations

# %% tags=["verify"]
assert single_flight.hung_clients == 0 and single_flight.errors == 0
print("Checked: no client hung or failed.")

# %% [markdown]
# One recomputation, because all 50 clients share one process. A real deployment runs many processes (web
# workers, containers), and each has its own table of flights. Give the same herd five processes of ten
# clients each:

# %% tags=["nbval-ignore-output"] output_varies="a process whose clients read after the first fill computes nothing"
PROCESSES = 5
app_servers = [SingleFlight() for _ in range(PROCESSES)]
five_processes = herd.run([app_servers[i % PROCESSES].get for i in range(CLIENTS)], prime=naive_prime)
print(f"{PROCESSES} processes, {five_processes.recomputations} recomputations")

# %% tags=["verify"]
assert five_processes.hung_clients == 0 and five_processes.errors == 0
assert 2 <= five_processes.recomputations <= PROCESSES  # one per process that saw the miss
print("Checked: between 2 and 5 recomputations, at most one per process.")

# %% [markdown]
# Single-flight caps the herd at one query **per process**: cheap, no network round trip, and worth having
# anyway, but with a hundred processes the database still sees a hundred queries. To get one per key
# across all of them, the coordination has to live where every process can see it: in Redis.
#
# ### 2.2 A Redis mutex (core)
#
# `SET lock token NX PX ttl` creates the lock only if nobody holds it (`NX`), and lets it expire on its own
# (`PX`), so a holder that dies cannot block the key forever. The **token** is a random value only the
# holder knows. Releasing compares it and deletes in one atomic step, a Lua script:

# %% tags=["setup"]
LOCK_TTL_MS = 300  # far longer than a recomputation; also bounds the wait if the holder dies
LOCK_WAIT_S = 2.0  # give up (and raise) after this long without a value
LOCK_POLL_S = 0.005  # how often a waiting client looks again

release_lock = r.register_script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
""")

# %% [markdown]
# The mutex rung. The client that wins the lock reads the key once more (another holder may have filled
# it and released just before), recomputes, stores, and releases in a `finally` block. The others sleep a
# few milliseconds and look again; they also retry the lock, so that when a holder dies, its lock's TTL
# hands the job to the next client.

# %%
LOCK_KEY = HOT_KEY + ":lock"


def mutex_get(conn):
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        cached = conn.get(HOT_KEY)
        if cached is not None:
            return json.loads(cached)
        token = secrets.token_hex(16)  # proves which client holds the lock
        if conn.set(LOCK_KEY, token, nx=True, px=LOCK_TTL_MS):
            try:
                cached = conn.get(HOT_KEY)  # filled just before we took the lock?
                if cached is not None:
                    return json.loads(cached)
                value = recompute()
                conn.set(HOT_KEY, json.dumps(value), px=HOT_TTL_MS)
                return value
            finally:
                release_lock(keys=[LOCK_KEY], args=[token], client=conn)
        time.sleep(LOCK_POLL_S)  # someone else is recomputing: wait, then look again
    raise TimeoutError(f"no value for {HOT_KEY} after {LOCK_WAIT_S} s")


# %%
mutex = herd.run(mutex_get, prime=naive_prime)
mutex.recomputations

# %% tags=["verify"]
assert mutex.hung_clients == 0 and mutex.errors == 0
print("Checked: no client hung or failed.")


# %% [markdown]
# **Why the token, and why not a plain `DEL`?** A holder can stall past its lock's TTL: a garbage
# collection pause, a slow query. The lock expires, another client takes it, and then the first one
# finishes and "releases" its lock, deleting the *other* client's. A third client now takes the lock while
# the second is still recomputing: two holders, and the mutex no longer excludes anything. Three
# connections, three app servers, replay it step by step:

# %%
def take_lock(conn, token, ttl_ms=LOCK_TTL_MS):
    return bool(conn.set(LOCK_KEY, token, nx=True, px=ttl_ms))


def plain_del(conn, token):
    conn.delete(LOCK_KEY)  # deletes whoever's lock is there now


def compare_and_delete(conn, token):
    release_lock(keys=[LOCK_KEY], args=[token], client=conn)  # deletes only our own lock


server_a, server_b, server_c = (new_connection(r) for _ in range(3))


def stalled_holder(release):
    """A takes the lock, stalls past its TTL, B takes it, A releases, then C tries."""
    r.delete(LOCK_KEY)
    a_took = take_lock(server_a, "token-A", ttl_ms=50)
    time.sleep(0.08)  # A stalls for 80 ms: its 50 ms lock expires
    b_took = take_lock(server_b, "token-B")
    release(server_a, "token-A")  # A finishes and releases "its" lock
    c_took = take_lock(server_c, "token-C")  # B is still recomputing: C must not get the lock
    r.delete(LOCK_KEY)
    return {"A took it": a_took, "B took it after A's TTL": b_took, "C took it while B held it": c_took}


# %%
with_plain_del = stalled_holder(plain_del)
with_compare_and_delete = stalled_holder(compare_and_delete)
print("plain DEL:         ", with_plain_del)
print("compare-and-delete:", with_compare_and_delete)

# %% tags=["verify"]
assert with_plain_del["C took it while B held it"] and not with_compare_and_delete["C took it while B held it"]
print("Checked: after a plain DEL, C took B's lock; after the compare-and-delete it could not.")

# %% [markdown]
# With the compare-and-delete, A's release finds B's token, deletes nothing, and C waits as it should.
# (The stall is still a problem of its own: after A's lock expired, A and B were both working on the value
# for a while. A lock TTL well above the slowest recomputation makes that rare; nothing makes it
# impossible, so the value written must be correct whoever writes it. For locks that guard correctness
# rather than load, see the fencing tokens in *Further reading*.)
#
# ### 2.3 A lease (core)
#
# Facebook's memcache paper (NSDI 2013) adds two things to the lock. A miss hands out a **lease**, one per
# key at a time: only its holder may fill the key, and an invalidation (a delete after a database write)
# **voids** the lease, so a filler holding an old value cannot put it back. And clients that don't get the
# lease don't have to wait: they may take a **stale** copy, the last value, kept a little longer. In the
# paper, leases cut the peak database query rate on herd-prone keys from 17K/s to 1.3K/s.
#
# In Redis: the lease is a `SET NX PX` key with a token, the stale copy is a second key with a longer TTL,
# and the fill is a Lua script that writes only if the lease still holds the filler's token. The lease is
# not deleted after the fill: it expires on its own, so a key gets at most one fill per lease period (as
# memcache hands out one lease per key every 10 s).

# %%
LEASE_KEY = HOT_KEY + ":lease"
STALE_KEY = HOT_KEY + ":stale"  # the last value, for clients that can live with it
LEASE_TTL_MS = 300
STALE_TTL_MS = 60_000

fill_with_lease = r.register_script("""
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
    return 0  -- no lease, or someone else's: ours was voided, refuse the fill
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
return 1
""")


def lease_get(conn):
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        cached = conn.get(HOT_KEY)
        if cached is not None:
            return json.loads(cached)
        token = secrets.token_hex(16)
        if conn.set(LEASE_KEY, token, nx=True, px=LEASE_TTL_MS):  # the one filler for this key
            value = recompute()
            fill_with_lease(
                keys=[HOT_KEY, STALE_KEY, LEASE_KEY],
                args=[token, json.dumps(value), HOT_TTL_MS, STALE_TTL_MS],
                client=conn,
            )
            return value
        stale = conn.get(STALE_KEY)
        if stale is not None:
            return json.loads(stale)  # someone else fills: take the stale value now
        time.sleep(LOCK_POLL_S)  # nothing stale either: wait briefly, then look again
    raise TimeoutError(f"no value for {HOT_KEY} after {LOCK_WAIT_S} s")


def lease_prime(life_ms):
    """Before the release: the value with life_ms to live, its stale copy, no lease."""
    naive_prime(life_ms)
    r.set(STALE_KEY, json.dumps(OLD_VALUE), px=STALE_TTL_MS)
    r.delete(LEASE_KEY)


# %%
lease = herd.run(lease_get, prime=lease_prime)
lease.recomputations

# %% tags=["verify"]
assert lease.hung_clients == 0 and lease.errors == 0
assert lease.stale_reads > 0  # the clients that did not hold the lease took the stale copy
assert lease.reads_that_waited < CLIENTS / 2  # ... instead of waiting (in practice only the filler waits)
print("Checked: clients without the lease took the stale copy, and fewer than half of the reads waited.")


# %% [markdown]
# One recomputation, and the clients without the lease did not wait. Now the other half of a lease: a
# database write that lands while a filler is working. The filler read the row before the write; the
# writer then invalidates the cache, which voids the lease, so the old row cannot be written back:

# %%
def invalidate(conn):
    """After a database write: delete the value and void any lease (the stale copy stays, as stale)."""
    conn.delete(HOT_KEY, LEASE_KEY)


r.delete(HOT_KEY, LEASE_KEY)
filler = new_connection(r)
filler_token = secrets.token_hex(16)
got_lease = filler.set(LEASE_KEY, filler_token, nx=True, px=LEASE_TTL_MS)  # a reader misses, takes the lease
read_before_write = recompute()  # ... and reads the row
db.update_user(HOT_USER, city="Tallinn")  # meanwhile a writer changes the row
invalidate(r)  # ... and invalidates the cache
filled = fill_with_lease(
    keys=[HOT_KEY, STALE_KEY, LEASE_KEY],
    args=[filler_token, json.dumps(read_before_write), HOT_TTL_MS, STALE_TTL_MS],
    client=filler,
)
after_write = lease_get(r)  # the next reader takes a new lease and fills the new row
verdict, now_cached = "accepted" if filled else "refused", after_write["user"]["version"]
print(f"the filler's write was {verdict}; the cache now holds version {now_cached}, the database's current one")

# %% tags=["verify"]
assert (bool(got_lease), filled, r.get(HOT_KEY) is not None) == (True, 0, True)
assert after_write["user"]["version"] == read_before_write["user"]["version"] + 1
print("Checked: the voided lease refused the old row, and the next reader cached the new version.")


# %% [markdown]
# [Notebook 03](03_invalidation.ipynb) uses leases for exactly this race between readers and writers. Here they matter
# for the herd: one filler per key, and nobody else waiting.
#
# ## 3. Refresh before anyone has to wait (going deeper)
#
# The mutex and the lease still let the key expire and then react. The last two rungs refresh the value
# *before* readers would miss it.
#
# ### 3.1 XFetch: probabilistic early recomputation (going deeper)
#
# XFetch (Vattani, Chierichetti and Lowenstein, VLDB 2015) stores with the value how long it took to
# compute (δ) and when it expires. On each read, a client recomputes early with a probability that grows
# as the expiry nears: it refreshes if `now − δ·β·ln(u) ≥ expiry` for a uniform random `u` in (0, 1], so
# with τ seconds left the chance is `exp(−τ / (β·δ))`. The busier the key, the more reads get a chance
# and the earlier one of them refreshes, with no coordination at all. β = 1 is the paper's default; a
# larger β refreshes earlier.

# %%
XFETCH_KEY = keys.key("featured-xfetch", HOT_USER)
BETA = 1.0
xfetch_random = random.Random(5)


def should_refresh_early(time_left_s, delta_s, beta, u):
    """XFetch's test: true with probability exp(-time_left / (beta * delta)) for u uniform in (0, 1]."""
    return -delta_s * beta * np.log(u) >= time_left_s  # np.log: it also runs on arrays (the simulation below)


def xfetch_store(conn, value, delta_s, ttl_ms):
    entry = {"value": value, "delta": delta_s, "expires_at": time.time() + ttl_ms / 1000}
    conn.set(XFETCH_KEY, json.dumps(entry), px=round(ttl_ms))


def xfetch_get(conn, beta=BETA):
    cached = conn.get(XFETCH_KEY)
    if cached is not None:
        entry = json.loads(cached)
        time_left = entry["expires_at"] - time.time()
        if not should_refresh_early(time_left, entry["delta"], beta, 1.0 - xfetch_random.random()):
            return entry["value"]  # a hit, and this read was not picked to refresh
    started = time.time()
    value = recompute()  # a miss, or picked to refresh early
    xfetch_store(conn, value, delta_s=time.time() - started, ttl_ms=HOT_TTL_MS)
    return value


def xfetch_prime(life_ms):
    xfetch_store(r, OLD_VALUE, delta_s=db.delay_ms / 1000, ttl_ms=life_ms)


# %%
xfetch = herd.run(xfetch_get, prime=xfetch_prime)
print(f"recomputations that started after the key expired (real misses): {xfetch.recomputations_after_expiry}")
print(f"stale values served: {xfetch.stale_reads}")

# %% tags=["verify"]
assert xfetch.hung_clients == 0 and xfetch.errors == 0
assert xfetch.refreshed_before_expiry  # the new value was stored before the old one expired
assert xfetch.recomputations_after_expiry == 0 and xfetch.stale_reads == 0
print("Checked: the new value was stored before the old one expired: no real miss, nothing stale.")

# %% tags=["nbval-ignore-output"] output_varies="when the refresh starts, and how many reads also picked it, is random"
first_refresh_ms = 1000 * min(query.start_s for query in xfetch.queries)
print(
    f"{xfetch.recomputations} recomputation(s); the first started {1000 * xfetch.expires_at_s - first_refresh_ms:.0f}"
    f" ms before the key would have expired"
)

# %% tags=["verify"]
assert first_refresh_ms < 1000 * xfetch.expires_at_s
print("Checked: the first refresh started before the expiry.")

# %% [markdown]
# Every recomputation finished before the old value expired, so no read ever found the key empty. The
# price: XFetch takes no lock, so reads that arrive while the refresh is in flight can also be picked, and
# the value is recomputed a little before it had to be. How much, as a function of β? A live herd gives
# one expiry per run, so the sweep below applies the **same `should_refresh_early`** to
# seeded streams of reads on a virtual clock: 400 expiries per β, at this herd's read rate and a 40 ms
# recomputation. What to expect: at a high read rate and without a lock, about e^(1/β) recomputations
# per expiry (2.7 at β = 1, 1.95 at β = 1.5). That number is not a result stated in the XFetch paper (the
# paper proves XFetch optimal among such schemes); it follows in a few lines from the trigger probability:
#
# <details><summary>Where e^(1/β) comes from</summary>
#
# Reads arrive at rate λ, and a read with τ left triggers with probability exp(−τ/(βδ)), so triggers
# form a Poisson process whose expected count, from long ago down to τ left, is
# H(τ) = λβδ·exp(−τ/(βδ)). The first trigger comes at the τ₀ where H(τ₀) reaches an exponential random
# variable E of mean 1 (this needs λβδ ≫ 1, so that it almost surely comes before expiry). Without a
# lock, every read during the next δ, while that refresh is in flight, may trigger too: expected
# H(τ₀ − δ) − H(τ₀) = H(τ₀)·(e^(1/β) − 1) = E·(e^(1/β) − 1) more. So the expected total is
# 1 + E[E]·(e^(1/β) − 1) = e^(1/β), whatever the read rate, as long as the first refresh starts more
# than δ before expiry. For small β it does not always (the real misses below), and the formula stops
# applying.
#
# </details>

# %%
BETAS = [0.3, 0.5, 0.75, 1, 1.5, 2, 3, 4]
sweep = sweep_xfetch(
    should_refresh_early, BETAS, rate_per_s=herd.nominal_rate_per_s, recompute_ms=db.delay_ms, expiries=400, seed=5
)

# %% tags=["nbval-ignore-output"] output_varies="seeded, but numpy does not promise the same streams across versions"
for outcome in sweep:
    print(
        f"β = {outcome.beta:<4g} {outcome.recomputations_per_expiry:5.2f} recomputations per expiry "
        f"(e^(1/β) = {outcome.expected_recomputations:5.2f}), refresh {outcome.lead_ms:4.0f} ms early, "
        f"real misses in {outcome.miss_share:4.0%} of expiries"
    )

# %% tags=["verify"]
by_beta = {outcome.beta: outcome for outcome in sweep}
for beta in (1, 1.5, 2, 3, 4):  # where the derivation's condition holds (λβδ ≫ 1)...
    assert herd.nominal_rate_per_s * beta * db.delay_ms / 1000 > 10
    # ...the simulated duplicates agree with e^(1/β)
    assert abs(by_beta[beta].recomputations_per_expiry / by_beta[beta].expected_recomputations - 1) < 0.2
leads = [outcome.lead_ms for outcome in sweep]
assert leads == sorted(leads)  # a larger β refreshes earlier: more cache lifetime given up
assert all(by_beta[beta].miss_share == 0 for beta in BETAS if beta >= 1)  # β >= 1: no real misses
assert by_beta[0.3].miss_share > 0  # too small a β: some expiries are reached before anyone refreshed
print("Checked: for β >= 1 the read rate makes λβδ large and the simulation is within 20 % of e^(1/β); a "
      "larger β refreshes earlier; only β = 0.3 let expiries through.")

# %%
fig, axes = figure("XFetch without a lock: duplicates against lead time", "a simulated read stream", ncols=2)
plot_xfetch_sweep(axes, sweep)
plt.show()


# %% [markdown]
# Read the two panels together: a small β wastes little cache lifetime but recomputes many times per
# expiry (and at 0.3, some expiries are reached before anyone refreshed: real misses); a large β
# recomputes about once but throws away more of the value's life. β = 1 is a sensible default. If the
# duplicates matter, let only the read that wins a `SET NX` lock refresh early, while the others keep
# serving the current value.
#
# ### 3.2 Stale-while-revalidate (going deeper)
#
# HTTP caches have done this for years (RFC 5861), and so do dogpile.cache and cashews. The value carries a
# **soft TTL** (`fresh_until`) inside it; the key has a longer **hard TTL**. Past the soft TTL, a read still
# returns the old value at once, and one read (the one that wins a short `SET NX` marker) starts a refresh
# in the background. If the database fails during that refresh (**stale-if-error**), readers keep getting
# the old value, the error is counted, and nothing new is cached. The marker's TTL also spaces out retries,
# so a failing database is not hammered.

# %%
SWR_KEY = keys.key("featured-swr", HOT_USER)
REFRESHING_KEY = SWR_KEY + ":refreshing"
SOFT_TTL_MS = HOT_TTL_MS  # fresh for 10 s,
HARD_TTL_MS = 60_000  # then served stale while one refresh runs, for up to 60 s
RETRY_AFTER_MS = 1_000  # at most one refresh attempt per second
background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="refresh")  # refreshes run here
refreshes = []  # their futures
refresh_errors = []


def swr_store(conn, value, soft_ttl_ms=SOFT_TTL_MS):
    entry = {"value": value, "fresh_until": time.time() + soft_ttl_ms / 1000}
    conn.set(SWR_KEY, json.dumps(entry), px=HARD_TTL_MS)


def refresh_in_background():
    try:
        swr_store(r, recompute())
    except DatabaseUnavailable as exc:
        refresh_errors.append(exc)  # stale-if-error: count it, keep the old value, cache nothing


def swr_get(conn):
    cached = conn.get(SWR_KEY)
    if cached is None:  # past the hard TTL (or never cached): nothing to serve, compute now
        value = recompute()
        swr_store(conn, value)
        return value
    entry = json.loads(cached)
    stale = time.time() >= entry["fresh_until"]
    if stale and conn.set(REFRESHING_KEY, 1, nx=True, px=RETRY_AFTER_MS):
        refreshes.append(background.submit(refresh_in_background))  # one refresh, off the read path
    return entry["value"]  # fresh, or stale while the refresh runs


def swr_prime(life_ms):
    r.delete(REFRESHING_KEY)
    swr_store(r, OLD_VALUE, soft_ttl_ms=life_ms)


def wait_for_refreshes():
    """After a herd: let the refreshes it started finish, so that they are counted even on a slow machine."""
    wait(refreshes, timeout=2)


# %%
swr = herd.run(swr_get, prime=swr_prime, settle=wait_for_refreshes)
swr.recomputations

# %% tags=["verify"]
assert swr.hung_clients == 0 and swr.errors == 0
assert swr.stale_reads > 0  # reads during the background refresh got the old value
print("Checked: no client hung or failed, and reads during the refresh got the old value.")

# %% [markdown]
# ## 4. The ladder, side by side (core)
#
# The same herd (50 clients, one expiry, the same 40 ms recomputation) against each rung. *Recomputations*
# counts database queries; *waited* counts reads that waited for one (more on that below); *stale reads*
# counts reads that got the old value after its (soft) expiry; *errors* counts reads that raised; *stuck*
# counts clients still waiting when the herd's deadline passed.

# %% tags=["nbval-ignore-output"] output_varies="read counts, latencies and some recomputations are measured"
ladder = {
    "1 naive": naive,
    "2 single-flight": single_flight,
    "3 Redis mutex": mutex,
    "4 lease": lease,
    "5 XFetch β=1": xfetch,
    "6 stale-while-revalidate": swr,
}
print(format_table(ladder))

# %% tags=["verify"]
assert all(result.errors == 0 and result.hung_clients == 0 for result in ladder.values())
assert naive.recomputations >= 0.8 * CLIENTS
assert single_flight.recomputations == mutex.recomputations == lease.recomputations == swr.recomputations == 1
assert xfetch.recomputations_after_expiry == 0 and xfetch.refreshed_before_expiry
print("Checked: no rung hung or failed; naive rebuilt about 50 times, single-flight, mutex, lease and SWR "
      "once, and XFetch before the expiry.")

# %% [markdown]
# Where the time goes. *Reads that waited* counts reads that were in progress over the second half of a
# database query and spent some of that time away from Redis (querying, sleeping between polls, waiting
# on another caller's result): they waited for a recomputation, not just for a busy server. The rungs
# that make callers **wait** for the one recomputation (single-flight, the mutex) fix the database's load
# but not the latency: nearly every client still waited once, as in the naive herd (the p99 column shows
# how long). The rungs that **serve something now** (the lease, XFetch, stale-while-revalidate) keep
# nearly every read away from the database, and pay in stale reads (lease, SWR) or in early, sometimes
# duplicated, work (XFetch).
#
# On fakeredis a read never leaves this process; on a real server every command is a round trip over
# the network, so the latency columns differ between the two. The counts do not: the assertions in this
# notebook hold on both.

# %%
waiting = [naive, single_flight, mutex]
serving = [lease, xfetch, swr]
fig, axes = figure("The ladder: one hot key, 50 clients, one expiry", r, ncols=4, width=12, height=3.8)
colors = [PALETTE["slow"]] + [PALETTE["neutral"]] * 2 + [PALETTE["fast"]] * 3
drawn = plot_ladder(axes, ladder, colors)
plt.show()

# %% tags=["verify"]
assert all(result.reads_that_waited >= CLIENTS / 2 for result in waiting)  # nearly every client waited once
assert all(result.reads_that_waited < CLIENTS / 2 for result in serving)  # far fewer: the refreshing reads
assert drawn["recomputations"] == [result.recomputations for result in ladder.values()]
assert drawn["reads that waited"] == [result.reads_that_waited for result in ladder.values()]
print("Checked: at least half the reads waited on the three waiting rungs, fewer than half on the three "
      "serving ones; the bars show the measured counts.")


# %% [markdown]
# ### When things fail
#
# **A lock holder that crashes** never releases its lock. The other clients wait, and the lock's TTL is what
# ends the outage: once it expires, the next waiting client takes the lock and recomputes. Replay it with
# the mutex rung: before the release the key is gone and a crashed holder's lock sits on it.

# %%
def crashed_holder_prime(life_ms):
    r.delete(HOT_KEY)  # the value expired ...
    r.set(LOCK_KEY, "crashed-holder", px=LOCK_TTL_MS)  # ... and its recomputer died holding the lock


crashed = herd.run(mutex_get, prime=crashed_holder_prime, life_ms=0, window_ms=450)
first_query_ms = 1000 * crashed.queries[0].start_s
crashed.recomputations, crashed.errors

# %% tags=["nbval-ignore-output"] output_varies="measured waiting times"
print(f"lock TTL {LOCK_TTL_MS} ms; the first recomputation started at {first_query_ms:.0f} ms")
print(f"the longest read waited {crashed.latency.max_ms:.0f} ms")

# %% tags=["verify"]
assert crashed.hung_clients == 0
assert first_query_ms >= 0.8 * LOCK_TTL_MS  # nobody could recompute until the lock expired
assert crashed.latency.max_ms < LOCK_TTL_MS + 1000  # and then the outage ended
assert (crashed.recomputations, crashed.errors) == (1, 0)
print("Checked: nobody recomputed until the crashed holder's lock expired, then exactly one client did, "
      "and no read waited a second longer than the lock's TTL.")

# %% [markdown]
# A shorter lock TTL shortens that outage but must stay well above the slowest recomputation, or a slow
# holder loses its lock while still working (section 2.2).
#
# **A database that fails during a refresh.** Run the stale-while-revalidate herd again inside
# `db.outage()`, where every query raises `DatabaseUnavailable`:

# %%
refresh_errors.clear()
with db.outage():
    failing = herd.run(swr_get, prime=swr_prime, settle=wait_for_refreshes)
still_cached = json.loads(r.get(SWR_KEY))["value"]
print(f"reads that raised: {failing.errors}")
print(f"refresh attempts that failed (counted, not shown to readers): {len(refresh_errors)}")
print(f"the cache still holds the old value, nothing was cached wrongly: {still_cached == OLD_VALUE}")

# %% tags=["verify"]
assert failing.hung_clients == 0 and failing.stale_reads > 0
assert failing.errors == 0 and failing.recomputations == len(refresh_errors) == 1
assert still_cached == OLD_VALUE
print("Checked: in the outage no read raised, one refresh was tried and failed, and the old value stayed cached.")

# %% [markdown]
# One refresh was attempted (the `REFRESHING_KEY` marker holds off the next for a second), it failed, and
# readers never noticed: they got the old value, which is exactly the trade stale-if-error makes. The naive
# rung has nothing to fall back on: in the same outage, a miss raises.

# %%
r.delete(HOT_KEY)
with db.outage():
    try:
        naive_get(r)
        naive_in_outage = "served a value"
    except DatabaseUnavailable as exc:
        naive_in_outage = f"raised {type(exc).__name__}"
naive_in_outage

# %% tags=["verify"]
assert naive_in_outage == "raised DatabaseUnavailable"
print("Checked: in the outage, the naive rung's miss raised DatabaseUnavailable.")

# %% [markdown]
# ## 5. Many keys at once, and what your library does (going deeper)
#
# ### TTL jitter
#
# A different problem with a similar face: a cache warmed in one go (after a deploy, a restart, a nightly
# job) writes many keys with the same TTL, so they all expire in the same instant, and their misses all
# arrive together. The fix is **jitter**: add a random extra to each TTL (AWS's example: 3600 s plus 0 to
# 120 s). [Notebook 01](01_ttl_expiry.ipynb) measures this in detail; here are 200 keys written together,
# with and without up to 10 % of jitter, as Redis reports their expiry (`PTTL`):

# %%
WARMED = 200
BASE_TTL_MS = 60_000
JITTER_MS = 6_000
jitter_random = np.random.default_rng(5)


def warm_cache(prefix, jitter_ms):
    """Write WARMED keys in one go; return when each expires, in seconds from now, as Redis reports it."""
    names = [keys.key("catalog", prefix, item) for item in range(WARMED)]
    extra = jitter_random.integers(0, jitter_ms + 1, size=WARMED) if jitter_ms else np.zeros(WARMED, dtype=int)
    with r.pipeline(transaction=False) as pipe:
        for name, extra_ms in zip(names, extra, strict=True):
            pipe.set(name, "product page", px=BASE_TTL_MS + int(extra_ms))
        pipe.execute()
    with r.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.pttl(name)
        expiries_s = np.array(pipe.execute()) / 1000
    r.delete(*names)
    return expiries_s


same_ttl = warm_cache("same-ttl", jitter_ms=0)
jittered = warm_cache("jittered", jitter_ms=JITTER_MS)
fig, ax = figure(f"{WARMED} keys written together", r)
per_bin = plot_expiry_spread(ax, {"same TTL": same_ttl, f"TTL + 0..{JITTER_MS // 1000} s jitter": jittered})
plt.show()

# %% tags=["verify"]
assert np.ptp(same_ttl) < 1.0  # all 200 expire within the same second
assert np.ptp(jittered) > 0.8 * JITTER_MS / 1000 and per_bin[f"TTL + 0..{JITTER_MS // 1000} s jitter"].max() < 40
print("Checked: without jitter all 200 keys expire within one second; with it they spread over most of 6 s.")

# %% [markdown]
# Jitter spreads the expiries of *many* keys over time. It does nothing for *one* hot key: that key still
# expires at one instant, and its herd is the same. That is what the ladder above is for.
#
# ### What the Python libraries do
#
# You may never write these rungs by hand: caching libraries ship some of them. What they do by default
# differs, and it is worth knowing which rung you are on:
#
# - **dogpile.cache**: a per-key "dogpile lock", by default a thread mutex, so it only coordinates the
#   threads of one process (single-flight); its Redis backend takes a `SET NX` lock shared by all
#   processes only with `distributed_lock=True`. While one worker regenerates the value, the others get the
#   old one: stale-while-revalidate with a lock.
# - **cashews**: in-process single-flight by default; `lock=True` adds a Redis lock; `early` refreshes
#   before expiry; `soft` serves the stale value when the refresh fails (stale-if-error).
# - **cachetools**: only `@cached(..., condition=...)` single-flights. With `lock=` alone, 20 concurrent
#   callers still compute 20 times: that lock guards the cache's dictionary, not the computation.
# - **Django**'s `cache.get_or_set`: no protection. Every caller that misses computes (rung 1).
#
# Two pitfalls while you are there: `timeout=0` *deletes* in Django but means *never expire* in
# Flask-Caching, and `cache.clear()` in Django's and cachelib's Redis backends is a `FLUSHDB`, which wipes
# everything else on a shared server.
#
# ## Your turn
#
# ### Exercise 05.1: a reusable lock-protected fill (core, about 15 min)
#
# Turn the mutex rung into a reusable function, the way dogpile.cache's `get_or_create` is: write
# `get_or_compute(conn, key, compute, ttl_ms)` that returns the value cached under `key` and, on a miss,
# lets exactly **one** caller run `compute()` while the others wait for its result.
#
# - The lock is the key `key + ":lock"`, taken with `SET ... NX PX LOCK_TTL_MS` and a random token.
# - Release it with compare-and-delete: `release_lock(keys=[lock_key], args=[token], client=conn)`.
# - Store `json.dumps(value)` with `px=ttl_ms`; on a hit return `json.loads` of what is cached.
# - Waiting callers poll every `LOCK_POLL_S`, give up after `LOCK_WAIT_S`, and keep retrying the lock
#   while they wait (a holder may have crashed).
#
# The check runs a herd of 50 clients against your function on an expired key and requires exactly one
# call to `compute()`, then does it again with a lock left behind by a crashed holder (no deadlock
# allowed), then checks that a holder that outlived its lock does not release someone else's. Stuck after
# a real try? The worked solution is in [solutions/05_stampedes.py](solutions/05_stampedes.py).

# %% tags=["exercise"]
def get_or_compute(conn, key, compute, ttl_ms):
    """Return the value cached under key; on a miss, only the lock holder calls compute()."""
    # BEGIN SOLUTION
    lock_key = key + ":lock"
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        cached = conn.get(key)
        if cached is not None:
            return json.loads(cached)
        token = secrets.token_hex(16)
        if conn.set(lock_key, token, nx=True, px=LOCK_TTL_MS):
            try:
                cached = conn.get(key)  # filled by the previous holder just before we took the lock?
                if cached is not None:
                    return json.loads(cached)
                value = compute()
                conn.set(key, json.dumps(value), px=ttl_ms)
                return value
            finally:
                release_lock(keys=[lock_key], args=[token], client=conn)
        time.sleep(LOCK_POLL_S)
    raise TimeoutError(f"no value for {key} after {LOCK_WAIT_S} s")
    # END SOLUTION


# %% tags=["check"]
check_lock_protected_fill(get_or_compute, cache=r, db=db, keys=keys)

# %% [markdown]
# ### Exercise 05.2: XFetch with a refresh lock (going deeper, about 15 min)
#
# Section 3.1 ended with a suggestion: if XFetch's duplicates matter, let only the read that wins a lock
# refresh early, while the others keep serving the current value. Write that read:
# `xfetch_get_locked(conn, key, compute, now_s, u)`.
#
# - The entry is JSON, as `xfetch_store` writes it: `{"value": ..., "delta": ..., "expires_at": ...}`.
# - `now_s` is the time and `u` the uniform random number in (0, 1] to use (the check passes both, so it
#   can replay the same reads every time); β is 1. A read is picked to refresh early when
#   `-delta * ln(u) >= expires_at - now_s`.
# - A picked read takes the lock `key + ":refresh"` with `SET ... NX PX`. If it gets it, it calls
#   `compute()`, which returns the new value and how long it took, `(value, delta_s)`; stores
#   `{"value", "delta", "expires_at": now_s + XFETCH_TTL_S}` (with a `px` TTL longer than that); releases
#   the lock; and returns the value. A read that does not get the lock returns the cached value at once.
# - On a miss there is nothing to serve: compute, store, return.
#
# The check replays a read far from expiry, one picked to refresh and five more arriving while that
# refresh is still in flight, then the next expiry and a miss. Stuck after a real try? The worked
# solution is in [solutions/05_stampedes.py](solutions/05_stampedes.py).

# %% tags=["exercise"]
def xfetch_get_locked(conn, key, compute, now_s, u):
    """XFetch where only the read that wins the refresh lock recomputes early; the others serve the cache."""
    # BEGIN SOLUTION
    cached = conn.get(key)
    if cached is not None:
        entry = json.loads(cached)
        if -entry["delta"] * np.log(u) < entry["expires_at"] - now_s:
            return entry["value"]  # not picked: serve the cached value
        if not conn.set(key + ":refresh", 1, nx=True, px=LOCK_TTL_MS):
            return entry["value"]  # picked, but another read is refreshing: serve the cached value
    value, delta_s = compute()
    entry = {"value": value, "delta": delta_s, "expires_at": now_s + XFETCH_TTL_S}
    conn.set(key, json.dumps(entry), px=round(2_000 * XFETCH_TTL_S))  # outlives expires_at: XFetch decides
    conn.delete(key + ":refresh")
    return value
    # END SOLUTION


# %% tags=["check"]
check_xfetch_with_lock(xfetch_get_locked, cache=r, keys=keys)

# %% [markdown]
# ## Summary
#
# - A hot key's expiry under load is a **herd**: every read during the recomputation misses and
#   recomputes. Its size is about request rate × recompute time (capped by the number of clients); you
#   measured nearly all 50 clients querying for one value.
# - **Single-flight** shares one load per process: one recomputation here, one per process in a fleet.
# - A **Redis mutex** (`SET NX PX` with a random token, compare-and-delete release in Lua) gives one
#   recomputation per key across processes. Release with a plain `DEL` and a stalled holder frees someone
#   else's lock. A crashed holder's lock is ended by its TTL.
# - A **lease** gives one filler per key, lets the others take a stale copy instead of waiting, and is voided
#   by an invalidation so an old value cannot be written back.
# - **XFetch** refreshes early with probability `exp(−τ/(βδ))`: no read found the key empty at β = 1, at the
#   cost of some cache lifetime given up and, without a lock, duplicates: about e^(1/β) recomputations per
#   expiry, by a short derivation from that probability (not a result of the paper), which the simulation
#   matched.
# - **Stale-while-revalidate** serves the old value while one background refresh runs, and keeps serving it
#   when the database fails (stale-if-error), counting the error and caching nothing.
# - **TTL jitter** fixes many keys expiring together, not one hot key.
# - **XFetch with a refresh lock** (exercise 05.2) keeps the early refresh and drops the duplicates: one
#   read refreshes, the others serve the cached value.
#
# ## Further reading
#
# - Vattani, Chierichetti, Lowenstein,
#   [Optimal Probabilistic Cache Stampede Prevention](https://www.vldb.org/pvldb/vol8/p886-vattani.pdf) (VLDB 2015):
#   XFetch and its analysis.
# - Nishtala et al.,
#   [Scaling Memcache at Facebook](https://www.usenix.org/system/files/conference/nsdi13/nsdi13-final170_update.pdf)
#   (NSDI 2013): leases, stale values, and the numbers from production.
# - Instagram Engineering,
#   [Thundering herds & promises](https://instagram-engineering.com/thundering-herds-promises-82191c8af57d):
#   single-flight in practice.
# - RFC 5861, [HTTP Cache-Control extensions for stale content](https://www.rfc-editor.org/rfc/rfc5861):
#   `stale-while-revalidate` and `stale-if-error`.
# - Redis docs, [`SET`](https://redis.io/docs/latest/commands/set/) (`NX`, `PX`) and
#   [distributed locks](https://redis.io/docs/latest/develop/clients/patterns/distributed-locks/);
#   Martin Kleppmann,
#   [How to do distributed locking](https://martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html)
#   (fencing tokens, and why a lock with a TTL cannot guarantee mutual exclusion on its own).
# - [dogpile.cache](https://dogpilecache.sqlalchemy.org/) and [cashews](https://github.com/Krukov/cashews).
#
# ## Cleanup
#
# Stop the background refresh threads, close the extra connections, and delete every key this notebook
# wrote (found by `SCAN` over `rcp:05:<you>:*`, nothing else).

# %%
background.shutdown(wait=True)
for conn in (server_a, server_b, server_c, filler):
    conn.close()
deleted = keys.cleanup(r)
print(f"deleted the keys under {keys.notebook_prefix}")

# %% tags=["verify"]
assert keys.count(r) == 0
print("Checked: no key of this notebook is left.")
