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
# # 08 · When the cache itself fails
#
# Every notebook so far assumed that Redis answers. In production the cache fails too: the server goes down,
# hangs, or gets stuck on one slow command; requests arrive for ids that do not exist; a restart empties it.
# A cache that fails badly takes the database down with it, because the database was sized for the few
# requests the cache lets through. This notebook makes each of those failures happen, on a private server it
# can pause and slow down, and counts what reaches the SQLite primary database with and without a defence.
#
# **What you'll build:** a cache-aside read that fails fast and fails open, a small circuit breaker, negative
# caching and a Bloom filter against missing ids, a warm-up for a cold cache, and one table of what the
# database saw with and without each defence.
#
# **What you'll learn**
#
# 1. What happens when Redis is down or hung, and how timeouts and failing open keep requests answered.
# 2. How a circuit breaker (closed, open, half-open) stops every request from waiting for a dead server.
# 3. Why one slow command stalls every client, how SLOWLOG and the latency monitor find it, and UNLINK.
# 4. How requests for missing ids pass through a cache, and how negative caching and a Bloom filter stop them.
# 5. How a cold cache sends the whole load to the database, and what warming it saves.
#
# **What you'll need:** notebooks [00](00_first_cache.ipynb) (cache-aside) and [05](05_stampedes.ipynb) (a herd
# of requests). Pausing and slowing a server must never happen to one others share, so those experiments
# (sections 1, 3, 4 and 7) run on a **private `redis-server`** started by the notebook, whichever backend `r`
# is. The replays of sections 1, 2, 5 and 6 run on `r`, with an outage simulated by a client wrapper where one
# is needed, so their counts are the same on every backend.
#
# **Time to learn**: about 75 min (core path: about 70 min).

# %% [markdown]
# ## Setup
#
# `r` is the Redis client (fakeredis unless `REDIS_URL` is set), `keys` names every key this notebook writes
# (`rcp:08:...`), and `db` is the SQLite primary database, which counts its queries (with no simulated latency: this
# notebook counts what reaches the database rather than timing it). The breaker's clock is injectable: `REAL_CLOCK`
# in production, a `FakeClock` in a replay.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend, fakeredis or a real server"
import hashlib
import json
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import redis
from redis.backoff import FullJitterBackoff
from redis.retry import Retry

from helpers.core.backend import connect
from helpers.core.clock import REAL_CLOCK, FakeClock
from helpers.core.keys import KeySpace, short_key
from helpers.core.primary_db import PrimaryDatabase
from helpers.core.workloads import zipf_requests
from helpers.exercises.nb08_cache_failures import check_fail_open, check_negative_cache
from helpers.harness.outage import HUNG, REFUSED, UP, SimulatedOutage, stall_probe
from helpers.labs.failure_lab import FailureLab
from helpers.viz.plots import PALETTE, figure

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("08")  # every key of this notebook starts with rcp:08:
db = PrimaryDatabase(users=1000, delay_ms=0)  # SQLite; no simulated latency: this notebook counts queries
PROFILE_TTL_MS = 60_000  # a profile's life in the cache
NOT_FOUND = ""  # the marker negative caching stores for a missing user (section 5)
NEGATIVE_TTL_MS = 5_000  # and its life: short, so a user created later is seen soon
db

# %% [markdown]
# The failure lab is a private server on a free local port, with the settings its experiments need (DEBUG
# enabled, which Redis 7 turns off by default). Only it is ever paused or slowed; it is stopped at Cleanup.

# %% tags=["nbval-ignore-output"] output_varies="which server binary the private lab runs, and its version"
lab = FailureLab()
cache = lab.start()  # prints which server it started
assert cache.ping()

# %% [markdown]
# ## 1. Redis down: fail fast, fail open (core)
#
# The cache-aside read of [notebook 00](00_first_cache.ipynb), as most code writes it: Redis first, the
# database on a miss. Nothing in it expects Redis to fail.

# %%
def get_profile_naive(cache, db, user_id):
    """Cache-aside with no thought for failure."""
    key = keys.key("user", user_id)
    cached = cache.get(key)
    if cached is not None:
        return json.loads(cached)
    row = db.get_user(user_id)
    if row is not None:  # (a missing user is not cached: section 5)
        cache.set(key, json.dumps(row), px=PROFILE_TTL_MS)
    return row


# %% [markdown]
# **Predict:** the server is gone (the lab starts a second server and stops it again, so its port refuses
# connections). With redis-py's default settings, what does a request get, and how long does it take?

# %%
gone = redis.Redis.from_url(lab.stopped_url(), decode_responses=True)  # redis-py's default settings
started = time.perf_counter()
try:
    get_profile_naive(gone, db, 1)
    naive_outcome = "a profile"
except redis.exceptions.ConnectionError as failure:
    naive_outcome = f"{type(failure).__module__}.{type(failure).__name__}"
naive_failed_after_s = time.perf_counter() - started
print(f"the caller got: {naive_outcome}")

# %% tags=["nbval-ignore-output"] output_varies="measured time to fail, and the defaults of the installed redis-py"
def client_settings(client):
    """The timeouts and retry count a redis-py client was made with."""
    options = client.connection_pool.connection_kwargs
    retry = client.get_retry() if hasattr(client, "get_retry") else options.get("retry")
    return (f"socket_timeout={options.get('socket_timeout')}, "
            f"socket_connect_timeout={options.get('socket_connect_timeout')}, retries={getattr(retry, '_retries', 0)}")


print(f"redis-py {redis.__version__}, redis.Redis.from_url(url): {client_settings(gone)}")
print(f"redis-py {redis.__version__}, redis.Redis(host, port):   {client_settings(redis.Redis(port=1))}")
print(f"the request failed after {naive_failed_after_s:.2f} s")

# %% tags=["verify"]
assert naive_outcome == "redis.exceptions.ConnectionError", naive_outcome
print("Checked: with the server gone, the naive read raised redis-py's ConnectionError to its caller.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# An exception: `redis.exceptions.ConnectionError`, straight to the caller, for a profile the database could
# have served. How long it took depends on the client's settings, printed above, and they depend on the
# redis-py version *and* on how the client was made: redis-py 8 gives `redis.Redis(host, port)` 5 s timeouts
# and 10 retries with backoff (seconds to fail against a gone server), but a client from `from_url` neither;
# redis-py 5 gives neither to both. `None` means no timeout at all. Note also that redis-py's exceptions do not
# subclass Python's own `ConnectionError` or `TimeoutError`: catch `redis.exceptions.RedisError`.
# </details>
#
# A server that is **hung** is worse than one that is gone: the connection is accepted, and the reply never comes.
# The lab pauses its server (SIGSTOP) to show it. Without a socket timeout the request would wait forever; with
# redis-py 8's `redis.Redis(host, port)` defaults, 5 s per try, ten times. So a cache client needs two things:
# **short timeouts** (`socket_connect_timeout`, `socket_timeout`) and **few retries**. Below, both failures with a
# client that has 50 ms timeouts and no retries.

# %%
TIMEOUT_S = 0.05  # connect and socket timeout of the cache client


def time_to_fail(client):
    """Seconds until a GET fails, and the exception's class name."""
    started = time.perf_counter()
    try:
        client.get(keys.key("probe"))
        return time.perf_counter() - started, "no error"
    except redis.exceptions.RedisError as failure:
        return time.perf_counter() - started, type(failure).__name__


refused_s, refused_error = time_to_fail(
    redis.Redis.from_url(lab.stopped_url(), socket_connect_timeout=TIMEOUT_S, retry=Retry(FullJitterBackoff(), 0))
)
with lab.pause():  # the server process is frozen: connections hang
    hung_s, hung_error = time_to_fail(lab.fast_failing_client(TIMEOUT_S))
print(f"server gone: {refused_error}; server hung: {hung_error}")

# %% tags=["nbval-ignore-output"] output_varies="measured times to fail"
print(f"gone: failed after {refused_s * 1000:.1f} ms; hung: failed after {hung_s * 1000:.1f} ms "
      f"(socket timeout {TIMEOUT_S * 1000:.0f} ms)")

# %% tags=["verify"]
assert refused_error == "ConnectionError" and hung_error == "TimeoutError"
assert hung_s >= 0.9 * TIMEOUT_S, hung_s  # a hung server costs at least the timeout
assert hung_s < TIMEOUT_S + 1.0 and refused_s < 1.0, (hung_s, refused_s)  # and no more than a loaded machine adds
print("Checked: a gone server is refused at once, a hung one costs the socket timeout and no more.")

# %% [markdown]
# Failing fast is half the answer; the request still has no profile. **Failing open** means: when Redis fails,
# answer from the database, as if it were a miss, and never let a cache error reach the caller.

# %%
def get_profile(cache, db, user_id):
    """Cache-aside that fails open: when Redis fails, the database answers."""
    key = keys.key("user", user_id)
    try:
        cached = cache.get(key)
    except redis.exceptions.RedisError:
        return db.get_user(user_id)  # fail open: the database takes this request
    if cached is not None:
        return json.loads(cached)
    row = db.get_user(user_id)
    try:
        if row is not None:
            cache.set(key, json.dumps(row), px=PROFILE_TTL_MS)
    except redis.exceptions.RedisError:
        pass  # the answer is right without its cache copy
    return row


# %% [markdown]
# Nobody gets an error now. But the database does get every request. It was sized for the cache's misses:
# say it can serve `DB_CAPACITY_QPS` queries per second, and the site sends `TRAFFIC_RPS` requests per second.
# Both are stated, not measured; what is measured is how many requests reach the database. A replay of 2,000
# requests (Zipf over the 1,000 users): 1,000 with Redis up, then 1,000 with Redis refusing connections. The
# outage is simulated by a client wrapper (`SimulatedOutage`) around `r`, so the counts are exact on every
# backend; the cells above showed the two failures it simulates on a real server.

# %%
TRAFFIC_RPS = 500  # requests per second the site sends (stated)
DB_CAPACITY_QPS = 200  # queries per second the database can serve (stated)
requests = zipf_requests(1000, 1.0, 2000, seed=8) + 1  # user ids 1..1000, the most popular first


def database_share(read, user_ids):
    """The share of ``user_ids`` requests that reached the database."""
    before = db.query_count
    for user_id in user_ids:
        read(int(user_id))
    return (db.query_count - before) / len(user_ids)


outage = SimulatedOutage(r, FakeClock(), timeout_s=TIMEOUT_S)
up_share = database_share(lambda uid: get_profile(outage, db, uid), requests[:1000])
outage.set_state(REFUSED)
down_share = database_share(lambda uid: get_profile(outage, db, uid), requests[1000:])
naive_errors = 0  # the same outage through the naive read of the first cell
for user_id in requests[1000:]:
    try:
        get_profile_naive(outage, db, int(user_id))
    except redis.exceptions.RedisError:
        naive_errors += 1
print(f"the naive read during the outage: {naive_errors} of 1000 requests got an exception; get_profile: none")
for label, share in (("Redis up", up_share), ("Redis down", down_share)):
    print(f"{label:<10}: {share:6.1%} of requests reach the database = {share * TRAFFIC_RPS:5.0f} queries/s "
          f"against a capacity of {DB_CAPACITY_QPS}")

# %% tags=["verify"]
assert naive_errors == 1000 and down_share == 1.0
assert up_share * TRAFFIC_RPS < DB_CAPACITY_QPS < down_share * TRAFFIC_RPS
print("Checked: with Redis up the database load is under its capacity; failing open puts all of it on the database.")

# %% [markdown]
# Failing open keeps every request answered only if the database can take the whole load. Here it cannot:
# the cell printed the load it would get against its capacity. Real defences for that are load
# shedding, serving stale copies from a second tier ([notebook 06](06_near_cache.ipynb)), or a database sized
# for it. And while Redis is *hung*, every request first waits for its timeout: that is the next section.
#
# ## 2. A circuit breaker (core)
#
# A breaker sits in front of Redis and counts failures. **Closed**: calls go to Redis. After
# `failures_to_open` failures in a row it **opens**: calls skip Redis at once (no timeout to wait for). After
# `open_s` it goes **half-open**: one trial call goes to Redis; a success closes the breaker, a failure opens
# it again. The clock is injected, so a replay on a `FakeClock` decides exactly as production would.

# %% tags=["setup"]
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """Skip a failing Redis: closed (calls go through), open (calls skip it), half-open (one trial call)."""

    def __init__(self, failures_to_open=5, open_s=0.5, clock=REAL_CLOCK):
        self.failures_to_open = failures_to_open
        self.open_s = open_s
        self.clock = clock
        self.state = CLOSED
        self.failures = 0  # failures in a row
        self.opened_at = 0.0
        self.transitions = []  # (time, new state)

    def allow(self):
        """May this call go to Redis?"""
        if self.state == OPEN and self.clock.now() - self.opened_at >= self.open_s:
            self._move(HALF_OPEN)
            return True  # the one trial call
        return self.state == CLOSED

    def record_success(self):
        self.failures = 0
        if self.state != CLOSED:
            self._move(CLOSED)

    def record_failure(self):
        self.failures += 1
        if self.state == HALF_OPEN or (self.state == CLOSED and self.failures >= self.failures_to_open):
            self.opened_at = self.clock.now()
            self._move(OPEN)

    def _move(self, state):
        self.state = state
        self.transitions.append((self.clock.now(), state))


# %% [markdown]
# The read path asks the breaker before each Redis call and tells it how the call went:

# %% tags=["setup"]
def cached_value(cache, breaker, key):
    """Redis's value for ``key`` through the breaker: (value, 'hit'/'miss'/'failed'/'skipped')."""
    if not breaker.allow():
        return None, "skipped"  # open: no Redis call, no timeout
    try:
        value = cache.get(key)
    except redis.exceptions.RedisError:
        breaker.record_failure()
        return None, "failed"
    breaker.record_success()
    return value, "hit" if value is not None else "miss"


# %% [markdown]
# A replay: 3,000 requests arriving every 2 ms (500 per second, 6 s in all) on a fake clock, Redis **hung**
# from the 1,000th to the 2,000th request (2 s). Each call to the hung server costs `TIMEOUT_S` of waiting for
# the request that made it (requests keep arriving meanwhile, as on a server with many worker threads). Once
# with no breaker (every request tries Redis), once with a breaker (5 failures to open, 0.5 s open).
#
# **Predict:** during the 2 s outage, how many requests wait for a timeout without a breaker? And with one?

# %%
ARRIVAL_GAP_S = 1 / TRAFFIC_RPS


def replay_outage(breaker, n_requests=3000, hung=range(1000, 2000)):
    """Requests every ARRIVAL_GAP_S on the breaker's clock; Redis hung for the ``hung`` ones. Returns the outage."""
    outage = SimulatedOutage(r, FakeClock(), timeout_s=TIMEOUT_S)  # its own clock: waits do not delay arrivals
    timeline = []  # (arrival time, outcome)
    for i, user_id in enumerate(zipf_requests(1000, 1.0, n_requests, seed=9) + 1):
        breaker.clock.advance(ARRIVAL_GAP_S)
        outage.set_state(HUNG if i in hung else UP)
        value, outcome = cached_value(outage, breaker, keys.key("user", int(user_id)))
        if value is None:
            row = db.get_user(int(user_id))  # fail open, or a plain miss
            if outcome == "miss":
                outage.set(keys.key("user", int(user_id)), json.dumps(row), px=PROFILE_TTL_MS)
        timeline.append((breaker.clock.now(), outcome))
    return outage, timeline


never_opens = CircuitBreaker(failures_to_open=10**9, clock=FakeClock())  # a breaker that never opens: none
with_breaker = CircuitBreaker(failures_to_open=5, open_s=0.5, clock=FakeClock())
no_breaker_run, _ = replay_outage(never_opens)
breaker_run, breaker_timeline = replay_outage(with_breaker)
for label, run in (("no breaker", no_breaker_run), ("breaker", breaker_run)):
    print(f"{label:<10}: {run.failures:4d} requests waited for a timeout, {run.waited_s:5.2f} s of waiting in all")
OUTAGE_S = 1000 * ARRIVAL_GAP_S
print(f"without a breaker, {no_breaker_run.waited_s / OUTAGE_S:.0f} requests were waiting at any moment of the outage")
print("breaker transitions:", " -> ".join(state for _, state in with_breaker.transitions))

# %% [markdown]
# <details><summary>Answer</summary>
#
# Without a breaker, every request of the outage waited its 50 ms, so at any moment a crowd of requests was
# stuck (the cell printed how many), each holding a worker thread and a connection. With the breaker, only the
# calls that opened it (5) and one trial call every half second waited. The transitions show the
# cycle: it opened, tried again half-open, reopened while Redis was still hung, and closed at the first trial
# after Redis came back.
# </details>

# %% tags=["verify"]
trials = math.ceil(OUTAGE_S / with_breaker.open_s)  # trial calls the 2 s outage allows at most
assert no_breaker_run.failures == 1000 and breaker_run.failures <= 5 + trials, breaker_run.failures
assert with_breaker.state == CLOSED and with_breaker.transitions[0][1] == OPEN
print("Checked: without a breaker every outage request waited; with it only the opening failures and the trials.")

# %%
fig, ax = figure("Circuit breaker state during a 2 s outage", "a simulated clock", height=2.6)
start = breaker_timeline[0][0]
level = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
times = [start] + [t for t, _ in with_breaker.transitions] + [breaker_timeline[-1][0]]
states = [CLOSED] + [s for _, s in with_breaker.transitions] + [with_breaker.state]
ax.step([t - start for t in times], [level[s] for s in states], where="post", color=PALETTE["neutral"])
ax.axvspan(OUTAGE_S, 2 * OUTAGE_S, color=PALETTE["slow"], alpha=0.15, label="Redis hung")
ax.set(yticks=[0, 1, 2], yticklabels=["closed", "half-open", "open"], xlabel="time (s)", ylim=(-0.3, 2.5))
ax.legend(loc="upper right", frameon=False)
plt.show()

# %% [markdown]
# ## 3. Retries: backoff, jitter, and when they make it worse (going deeper)
#
# redis-py can retry a failed command: `Retry(backoff, retries)`. Between tries it waits a backoff that
# doubles each time up to a cap, with **jitter** (a random share of it) so that a thousand clients do not
# retry in the same millisecond. Against a *blip* (a dropped connection) one retry saves the request. Against
# an *outage* each retry is one more timeout: measured on the paused lab server with 50 ms timeouts. (redis-py
# 5 retries a timeout only with `retry_on_timeout=True`; 6 and later retry it by default.)

# %%
def hung_time_to_fail(retries):
    """Seconds until a GET to the paused lab server fails, with ``retries`` retries and jittered backoff."""
    backoff = FullJitterBackoff(cap=0.1, base=0.01)
    client = lab.fast_failing_client(TIMEOUT_S, retry=Retry(backoff, retries), retry_on_timeout=True)  # (redis-py 5)
    client.ping()  # connected before the server hangs
    with lab.pause():
        failed_after_s, _ = time_to_fail(client)
    client.close()
    return failed_after_s


RETRIES = (0, 1, 3)
retry_cost_s = {retries: hung_time_to_fail(retries) for retries in RETRIES}
print(f"time to fail measured for {len(RETRIES)} retry settings")

# %% tags=["nbval-ignore-output"] output_varies="measured times to fail"
for retries, seconds in retry_cost_s.items():
    timeouts = f"{retries + 1} timeouts of {TIMEOUT_S * 1000:.0f} ms"
    print(f"{retries} retries: failed after {seconds * 1000:6.1f} ms ({timeouts})")

# %% tags=["verify"]
for retries, seconds in retry_cost_s.items():
    assert seconds >= 0.9 * (retries + 1) * TIMEOUT_S, (retries, seconds)  # each try waits out its timeout
print("Checked: each retry against a hung server adds at least one more timeout.")

# %% [markdown]
# So in the replay of section 2, three retries would have multiplied its waiting by four, and sent four
# commands per request to a server that is struggling already. Retry a little (one retry, jittered)
# for blips, let the breaker handle outages, and never retry a command that is not idempotent (`INCR`) after
# a timeout: the first try may have run.
#
# ## 4. Redis slow: one command stalls every client (core)
#
# Redis runs commands one at a time. While one command runs, every other client waits, however cheap its own
# command. Four clients send `PING` every 10 ms while a fifth runs `DEBUG SLEEP 0.5` (a command that does
# nothing for half a second: a stand-in for a `KEYS *` on millions of keys or a `DEL` of a huge set).
#
# **Predict:** how long does each client's slowest `PING` take?

# %%
SLEEP_S = 0.5
cache.slowlog_reset()
cache.execute_command("LATENCY", "RESET")
stalled = stall_probe(lambda: lab.fast_failing_client(5.0), lambda c: c.execute_command("DEBUG", "SLEEP", SLEEP_S))
print(f"{len(stalled.pings)} clients probed, {stalled.errors} errors")

# %% tags=["nbval-ignore-output"] output_varies="measured latencies"
for index, wait in enumerate(stalled.waits_during_block()):
    print(f"client {index + 1}: slowest PING during the sleep took {wait * 1000:.0f} ms")

# %% tags=["verify"]
assert min(stalled.waits_during_block()) >= 0.4 * SLEEP_S, stalled.waits_during_block()
print("Checked: every client's PING waited for a large part of the one slow command.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Every client waited, most nearly the whole half second: their `PING`s queued behind the sleep.
# </details>
#
# To find the command afterwards, Redis keeps two records. **SLOWLOG** lists commands slower than
# `slowlog-log-slower-than` (µs; 10 ms in the lab, the default), with their arguments and duration. The
# **latency monitor** (off by default: `latency-monitor-threshold 0`; 100 ms in the lab) records spikes by
# event. Both measure time inside the server, not the client's wait.

# %%
slowest = max(cache.slowlog_get(10), key=lambda entry: entry["duration"])
command = slowest["command"].decode() if isinstance(slowest["command"], bytes) else slowest["command"]
latest = {event[0]: event for event in cache.execute_command("LATENCY", "LATEST")}
print(f"SLOWLOG's slowest: {command!r}, over {SLEEP_S * 1000:.0f} ms: {slowest['duration'] >= SLEEP_S * 1e6}")
print(f"latency monitor events: {sorted(latest)}, worst at least {SLEEP_S * 1000:.0f} ms: "
      f"{latest['command'][3] >= SLEEP_S * 1000}")

# %% [markdown]
# The fixes are commands that do the same work without blocking. `DEL` of a big key frees every element
# before it answers; `UNLINK` removes the key and frees its memory in a background thread (Redis's
# `lazyfree-lazy-user-del no` is the default; Valkey 8 turns it on, the lab turns it off). Likewise `KEYS`
# walks the whole keyspace in one command, where `SCAN` walks it in small steps with other clients' commands
# in between. Each timed by the server itself: SLOWLOG, with its threshold at 0 for the timed command. A
# busy machine can stretch any one timing, so each big command is timed three times and the shortest kept.

# %%
SET_SIZE = 50_000
FILL = "for i = 1, tonumber(ARGV[1]) do redis.call('SADD', KEYS[1], i) end"  # a set of SET_SIZE members


def logged_name(entry):
    """The command name of a SLOWLOG entry."""
    words = entry["command"].decode() if isinstance(entry["command"], bytes) else entry["command"]
    return words.split()[0].upper()


def server_us(*command):
    """The microseconds the lab server spent in ``command``'s calls, read back from SLOWLOG."""
    cache.config_set("slowlog-log-slower-than", 0)  # the lab's own server: log every command
    cache.slowlog_reset()
    if command[0] == "SCAN":  # the whole walk, one call per step
        for _ in cache.scan_iter(match=command[1], count=1000):
            pass
    else:
        cache.execute_command(*command)
    logged = [entry["duration"] for entry in cache.slowlog_get(1000) if logged_name(entry) == command[0]]
    cache.config_set("slowlog-log-slower-than", 10_000)
    return logged


shortest = {}
for name in ("DEL", "UNLINK"):
    runs = []
    for _ in range(3):
        cache.eval(FILL, 1, keys.key("big", name), SET_SIZE)
        runs += server_us(name, keys.key("big", name))
    shortest[name] = min(runs)
cache.execute_command("DEBUG", "POPULATE", 100_000, keys.key("filler"))  # 100,000 small keys
shortest["KEYS"] = min(min(server_us("KEYS", keys.key("nothing", "*"))) for _ in range(3))
scan_steps = server_us("SCAN", keys.key("nothing", "*"))
for batch in np.array_split(list(cache.scan_iter(match=keys.key("filler", "*"), count=5000)), 20):
    cache.unlink(*batch)  # UNLINK, not DEL: no stall for the other clients
print(f"timed by the server: {sorted(shortest)}; the SCAN took more than 10 steps: {len(scan_steps) > 10}")

# %% tags=["nbval-ignore-output"] output_varies="measured server times"
print(f"DEL of a {SET_SIZE:,}-member set: {shortest['DEL'] / 1000:.1f} ms; UNLINK: {shortest['UNLINK'] / 1000:.2f} ms")
print(f"KEYS over 100,000 keys: {shortest['KEYS'] / 1000:.1f} ms in one command; SCAN: {len(scan_steps)} steps, "
      f"the median {np.median(scan_steps) / 1000:.2f} ms each")

# %% tags=["verify"]
assert shortest["DEL"] > 3 * shortest["UNLINK"], shortest
assert np.median(scan_steps) < shortest["KEYS"] / 3, (np.median(scan_steps), shortest)
print("Checked: the server spent far longer in DEL than in UNLINK, and in KEYS than in one step of SCAN.")

# %% [markdown]
# ## 5. Cache penetration: ids that do not exist (core)
#
# Cache-aside caches what the database returned. For an id that does not exist it returns nothing, so nothing
# is cached, and every request for that id reaches the database. A bug, a crawler or an attacker asking for
# random ids walks straight through the cache. 1,000 requests for 100 ids that do not exist:

# %%
missing_ids = [int(i) for i in np.random.default_rng(5).integers(10_001, 10_101, size=1000)]
before = db.query_count
for user_id in missing_ids:
    get_profile(r, db, user_id)
plain_queries = db.query_count - before
print(f"{len(missing_ids)} requests for {len(set(missing_ids))} missing ids: {plain_queries} database queries")

# %% [markdown]
# **Negative caching** stores "not found" too, as a marker with a short TTL, so a row created later is seen
# soon: `NOT_FOUND` (an empty string) for `NEGATIVE_TTL_MS` (5 s), both set in Setup. You will write it in
# exercise 08.2; here is its effect:

# %%
before = db.query_count
for user_id in missing_ids:
    key = keys.key("user", user_id)
    if r.get(key) is None:
        row = db.get_user(user_id)
        r.set(key, NOT_FOUND if row is None else json.dumps(row), px=NEGATIVE_TTL_MS if row is None else PROFILE_TTL_MS)
negative_queries = db.query_count - before
print(f"with negative caching: {negative_queries} database queries")

# %% tags=["verify"]
assert plain_queries == len(missing_ids) and negative_queries == len(set(missing_ids))
print("Checked: without negative caching every request reached the database; with it, one query per missing id.")

# %% [markdown]
# The markers cost memory: the same markers written to the lab server, and measured with `MEMORY USAGE`
# (fakeredis cannot measure memory).

# %% tags=["nbval-ignore-output"] output_varies="memory sizes depend on the server and its allocator"
distinct_missing = sorted(set(missing_ids))
for user_id in distinct_missing:
    cache.set(keys.key("marker", user_id), NOT_FOUND, px=NEGATIVE_TTL_MS)
marker_bytes = sum(cache.memory_usage(keys.key("marker", user_id)) for user_id in distinct_missing)
print(f"{len(distinct_missing)} markers take {marker_bytes} bytes on {lab.label}, "
      f"about {marker_bytes // len(distinct_missing)} bytes each: mostly the key and its bookkeeping")
assert marker_bytes > 0

# %% [markdown]
# It costs a key per missing id: an attacker with endless random ids fills the cache with markers. A **Bloom
# filter** answers "certainly not in the database" or "maybe" from a fixed number of bits, built once from the
# database's ids: each id sets `k` bits out of `m`; an id whose bits are not all set was never added. It can
# say "maybe" for an id that is not there (a false positive) at a rate `p` you choose when sizing it:
# `m = -n ln p / (ln 2)²` bits and `k = (m / n) ln 2` hash functions for `n` ids. Here it lives in a Redis
# bitmap, so every application server shares it: one `BITFIELD` command sets or reads an id's `k` bits.

# %%
class BloomFilter:
    """``n`` items in ``m`` bits of a Redis bitmap, ``k`` bits per item, sized for a false-positive rate ``p``."""

    def __init__(self, client, key, n, p):
        self.client, self.key = client, key
        self.m = math.ceil(-n * math.log(p) / math.log(2) ** 2)
        self.k = max(1, round(self.m / n * math.log(2)))

    def positions(self, item):
        digest = hashlib.sha256(str(item).encode()).digest()
        h1, h2 = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")
        return [(h1 + i * h2) % self.m for i in range(self.k)]  # k positions from two hashes

    def add_all(self, items):
        pipe = self.client.pipeline(transaction=False)
        for item in items:  # BITFIELD key SET u1 <position> 1 ..., one command per item
            pipe.execute_command("BITFIELD", self.key, *[a for p in self.positions(item) for a in ("SET", "u1", p, 1)])
        pipe.execute()

    def might_contain_many(self, items):
        pipe = self.client.pipeline(transaction=False)
        for item in items:  # BITFIELD key GET u1 <position> ...: the item's k bits
            pipe.execute_command("BITFIELD", self.key, *[a for p in self.positions(item) for a in ("GET", "u1", p)])
        return [all(bits) for bits in pipe.execute()]  # all set: maybe; one clear: certainly not


# %% [markdown]
# **Predict:** the filter is sized for `p` = 10 % and 1 %. Of 2,000 ids that do not exist, how many get
# through?

# %%
never_added = list(range(20_001, 22_001))
blooms = {}
for p in (0.1, 0.01):
    bloom = BloomFilter(r, keys.key("bloom", p), n=db.users, p=p)
    bloom.add_all(range(1, db.users + 1))
    through = sum(bloom.might_contain_many(never_added))
    blooms[p] = (bloom, through)
    print(f"sized for p={p:<4}: {bloom.m:5d} bits ({bloom.m / 8 / 1024:.1f} KiB), k={bloom.k}: "
          f"{through} of {len(never_added)} missing ids let through ({through / len(never_added):.2%})")

# %% [markdown]
# <details><summary>Answer</summary>
#
# About `p` of them, as sized: the measured rates sit near 10 % and 1 %. And no id that is in the database was
# ever turned away (the check below asserts it): a Bloom filter has false positives, never false negatives. Ten
# times fewer false positives cost about twice the bits. New users must be added to the filter as they are
# created; deleted ones cannot be removed (a counting filter can).
# </details>

# %% tags=["verify"]
for bloom, _ in blooms.values():
    assert all(bloom.might_contain_many(list(range(1, db.users + 1))))  # no false negatives, ever
for p, (bloom, through) in blooms.items():
    expected = (1 - math.exp(-bloom.k * db.users / bloom.m)) ** bloom.k  # the false-positive rate of this m, k, n
    spread = 4 * math.sqrt(expected * (1 - expected) / len(never_added))
    assert abs(through / len(never_added) - expected) < spread + 0.002, (p, through, expected)
print("Checked: each filter's measured false-positive rate is within 4 standard errors of its design.")

# %% [markdown]
# ## 6. Cold cache: the miss storm and warming (core)
#
# After a restart (or a flush, or a failover to an empty replica) the hit ratio starts at zero and the
# database takes every request until the hot keys are back. 3,000 requests, Zipf over 1,000 users, into an
# empty cache; then the same requests into a cache **warmed** beforehand with the 100 users that were most
# requested in yesterday's traffic (a different seed: yesterday is not today, but the hot users mostly are).

# %%
WINDOW = 250  # requests per point of the hit-ratio curve
today = zipf_requests(1000, 1.0, 3000, seed=10) + 1
yesterday = zipf_requests(1000, 1.0, 3000, seed=11) + 1
hot_list = [int(uid) for uid in np.argsort(-np.bincount(yesterday, minlength=1001), kind="stable")[:100]]


def replay_cold(prefix, warm_with=()):
    """Database queries per window of WINDOW requests for today's traffic, after warming ``warm_with``."""
    pipe = r.pipeline(transaction=False)
    for user_id in warm_with:  # warming reads the database too, before traffic arrives
        pipe.set(keys.key(prefix, user_id), json.dumps(db.get_user(user_id)), px=PROFILE_TTL_MS)
    pipe.execute()
    per_window = []
    for start in range(0, len(today), WINDOW):
        before = db.query_count
        for user_id in today[start : start + WINDOW]:
            key = keys.key(prefix, int(user_id))
            if r.get(key) is None:
                r.set(key, json.dumps(db.get_user(int(user_id))), px=PROFILE_TTL_MS)
        per_window.append(db.query_count - before)
    return per_window


cold = replay_cold("cold")
warm = replay_cold("warm", warm_with=hot_list)
print(f"database queries in the first {WINDOW} requests: cold {cold[0]}, warmed {warm[0]}")
print(f"in all {len(today)} requests: cold {sum(cold)}, warmed {sum(warm)} (+{len(hot_list)} to warm up)")

# %% tags=["verify"]
assert warm[0] < cold[0] and cold[0] > cold[-1] and warm[0] > warm[-1]  # both recover as the hot keys come back
assert abs(sum(warm) + len(hot_list) - sum(cold)) <= 0.2 * len(hot_list)  # the same reads, moved before the traffic
print("Checked: warming lowers the first window's database load; with its own reads the total stays about the same.")

# %%
fig, ax = figure(f"Hit ratio per {WINDOW} requests after a restart", r, height=3.0)
x = np.arange(1, len(cold) + 1) * WINDOW
for label, series, color in (("cold", cold, PALETTE["slow"]), ("warmed with 100 hot users", warm, PALETTE["fast"])):
    ax.plot(x, [1 - q / WINDOW for q in series], marker="o", color=color, label=label)
ax.set(xlabel="requests since the restart", ylabel="hit ratio", ylim=(0, 1))
ax.legend(loc="lower right", frameon=False)
plt.show()

# %% [markdown]
# The cold curve climbs as each user's first request fills the cache; the warmed one starts high because the hot
# users, the ones most requests are for, were there at once. Warming from a list costs database reads too (about as
# many as it saves: the totals above), but before the traffic, at a pace you choose. The other way is to **ramp**
# traffic onto a new node (a small share first), so the database sees the storm spread out.
#
# ## 7. Big and hot keys (going deeper)
#
# A key that is very big or very hot is a failure of its own: a big key makes its commands slow (section 4),
# a hot key puts one node's whole load on one key. `redis-cli --bigkeys` and `--hotkeys` find them with `SCAN`;
# here is the same from Python on the lab server, with `MEMORY USAGE` and `OBJECT FREQ` (which needs an LFU
# policy: the lab runs `allkeys-lfu`, with no memory limit). A key `SCAN` returns can expire before the next
# command reads it (section 5's "not found" markers live 5 s), so the census skips keys that are gone.

# %%
profile = db.get_user(7)
cache.set(keys.key("json", 7), json.dumps(profile))
cache.hset(keys.key("hash", 7), mapping={k: str(v) for k, v in profile.items()})
cache.hset(keys.key("feed"), mapping={f"item:{i}": "x" * 20 for i in range(5_000)})  # a big key
for user_id in range(1, 51):
    cache.set(keys.key("user", user_id), json.dumps(db.get_user(user_id)))
for _ in range(300):
    cache.get(keys.key("user", 42))  # a hot key


def scan_keys(client):
    """This notebook's keys on ``client``, by SCAN (never KEYS)."""
    return list(keys.scan(client))


sizes, freqs = {}, {}
for key in scan_keys(cache):
    size, freq = cache.memory_usage(key), cache.object("freq", key)
    if size is not None and freq is not None:  # None: the key expired after SCAN returned it
        sizes[key], freqs[key] = size, freq
print("biggest key:", short_key(max(sizes, key=sizes.get)), "| hottest key:", short_key(max(freqs, key=freqs.get)))

# %% tags=["nbval-ignore-output"] output_varies="memory sizes depend on the server and its allocator"
json_bytes, hash_bytes = sizes[keys.key("json", 7)], sizes[keys.key("hash", 7)]
print(f"a profile as a JSON string: {json_bytes} bytes; as a hash: {hash_bytes} bytes; the feed: "
      f"{sizes[keys.key('feed')]} bytes")

# %% tags=["verify"]
assert all(size > 0 for size in sizes.values()) and max(sizes, key=sizes.get) == keys.key("feed")
assert max(freqs, key=freqs.get) == keys.key("user", 42) and freqs[keys.key("user", 42)] > freqs[keys.key("user", 41)]
print("Checked: SCAN with MEMORY USAGE found the big feed, and with OBJECT FREQ the hot user 42.")

# %% [markdown]
# A small hash is stored compactly (a listpack) and costs about what its JSON costs, with fields you can read
# and change one at a time; past `hash-max-listpack-entries` it becomes a real hash table. A big key should be
# split (`feed:{user}:page:N`), and a hot key copied to a near cache ([notebook 06](06_near_cache.ipynb)) or to
# several keys read at random.
#
# ## Your turn
#
# ### Exercise 08.1: a read that survives an outage (core, about 15 min)
#
# Write `fail_open_client(url)`, a redis-py client for the cache with timeouts of at most 0.1 s and no retries,
# and `get_profile_resilient(cache, db, breaker, user_id)`: cache-aside through the `CircuitBreaker` of
# section 2 that fails open to the database (use `keys.key("user", user_id)` and `PROFILE_TTL_MS`). The checker
# starts a private server, runs four threads of readers, **pauses the server** for a second in the middle, and
# lets it run again. It requires that no exception reaches a reader, that no request waits much longer than a
# timeout, that the breaker keeps most outage requests away from Redis, and that reads come from Redis again
# after the outage. Solution: [solutions/08_cache_failures.py](solutions/08_cache_failures.py).

# %% tags=["exercise"]
def fail_open_client(url):
    """A cache client that fails fast: short timeouts, no retries."""
    # BEGIN SOLUTION
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=0.05,
        socket_connect_timeout=0.05,
        retry=Retry(FullJitterBackoff(), 0),
    )
    # END SOLUTION


def get_profile_resilient(cache, db, breaker, user_id):
    """Cache-aside through a circuit breaker that fails open to the database."""
    # BEGIN SOLUTION
    profile_key = keys.key("user", user_id)
    value, outcome = cached_value(cache, breaker, profile_key)  # asks the breaker first
    if value is not None:
        return json.loads(value)
    row = db.get_user(user_id)  # a miss, a failure, or an open breaker: the database answers
    if outcome == "miss" and row is not None:
        try:
            cache.set(profile_key, json.dumps(row), px=PROFILE_TTL_MS)
        except redis.exceptions.RedisError:
            breaker.record_failure()
    return row
    # END SOLUTION


# %% tags=["check"]
check_fail_open(fail_open_client, get_profile_resilient, lambda: CircuitBreaker(failures_to_open=3, open_s=0.2))

# %% [markdown]
# ### Exercise 08.2: negative caching (core, about 10 min)
#
# Write `get_profile_or_none(cache, db, user_id)`: cache-aside that returns the profile dict, or `None` for a
# user that does not exist, and caches that "not found" as `NOT_FOUND` with a TTL of at most 60 s
# (`NEGATIVE_TTL_MS`), so repeated requests for a missing id reach the database once. The checker asks for
# existing and missing ids several times each and counts the database's queries.

# %% tags=["exercise"]
def get_profile_or_none(cache, db, user_id):
    """Cache-aside with negative caching: a missing user is cached as NOT_FOUND for a short time."""
    # BEGIN SOLUTION
    profile_key = keys.key("profile", user_id)
    cached = cache.get(profile_key)
    if cached is not None:
        return None if cached == NOT_FOUND else json.loads(cached)
    row = db.get_user(user_id)
    if row is None:
        cache.set(profile_key, NOT_FOUND, px=NEGATIVE_TTL_MS)  # "not found", for a short time
    else:
        cache.set(profile_key, json.dumps(row), px=PROFILE_TTL_MS)
    return row
    # END SOLUTION


# %% tags=["check"]
check_negative_cache(get_profile_or_none, r)

# %% [markdown]
# ## Summary
#
# What the database (or the requests) saw in this notebook, without and with each defence. Every number is a
# count from the replays above, the same on every backend.

# %%
rows = [
    ("Redis down (fail open)", "requests that got an exception", naive_errors, 0),
    ("Redis hung, 2 s", "requests that waited a timeout", no_breaker_run.failures, breaker_run.failures),
    ("missing ids", "database queries, 1,000 requests", plain_queries, negative_queries),
    ("missing ids, Bloom p=1%", "missing ids let through, of 2,000", len(never_added), blooms[0.01][1]),
    ("cold cache", f"database queries, first {WINDOW} requests", cold[0], warm[0]),
]
print(f"{'failure':<25} {'what was counted':<36} {'without':>10} {'with':>14}")
for failure, counted, without, with_defence in rows:
    print(f"{failure:<25} {counted:<36} {without!s:>10} {with_defence!s:>14}")

# %% [markdown]
# - A cache client needs **short timeouts and few retries**; redis-py's defaults wait seconds, or forever.
# - **Fail open**: a cache error is a miss, never an error for the caller; but the database then takes the
#   whole load, so it must be sized for it, or shed load.
# - A **circuit breaker** stops every request from waiting for a hung server, and finds out by itself when the
#   server is back (half-open).
# - **Retries** help against blips and hurt in outages: each one is another timeout.
# - One **slow command** stalls every client; SLOWLOG and the latency monitor find it; `UNLINK` and `SCAN` avoid it.
# - **Negative caching** and a **Bloom filter** stop requests for missing ids; **warming** softens a cold start.
#
# ## Further reading
#
# - redis-py: [retries and timeouts](https://redis.readthedocs.io/en/stable/retry.html) and
#   [backoff](https://redis.readthedocs.io/en/stable/backoff.html).
# - Redis docs: [SLOWLOG](https://redis.io/docs/latest/commands/slowlog/),
#   [latency monitoring](https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency-monitor/),
#   [UNLINK](https://redis.io/docs/latest/commands/unlink/), [SCAN](https://redis.io/docs/latest/commands/scan/).
# - Martin Fowler, [CircuitBreaker](https://martinfowler.com/bliki/CircuitBreaker.html).
# - Burton H. Bloom, "Space/time trade-offs in hash coding with allowable errors", CACM 13(7), 1970.
#
# ## Cleanup
#
# Delete this notebook's keys on both servers, and stop the private one.

# %%
keys.cleanup(r)
keys.cleanup(cache)
lab.close()
print(f"keys left under {keys.notebook_prefix}: {len(scan_keys(r))}")
