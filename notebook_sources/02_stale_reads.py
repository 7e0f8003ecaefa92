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
# # 02 · Stale reads: what a TTL costs in freshness
#
# A cache that only expires by TTL keeps serving the old value after the database changes, until the TTL
# runs out. Every tutorial says so; this notebook measures it. You will watch a profile go stale and time the
# stale window, then put numbers on the trade-off every TTL makes: a longer TTL gives more hits *and* more
# stale reads. At the end you choose a TTL from a product requirement instead of guessing one.
#
# **What you'll build:** a timed stale-read experiment on the cache-aside `get_profile`, a TTL sweep measured
# against the closed forms, `pick_ttl(...)`, which turns a staleness budget into a TTL, and
# `longest_ttl_within_budget(...)`, the bisection that finds that TTL, written by you.
#
# **What you'll learn**
#
# 1. Why a cached profile stays stale after a database update, and how long: the stale window, measured.
# 2. How to read a stale read on a timeline: database value, cached value, the window between them.
# 3. The trade-off in numbers: hit ratio and stale-read share against the TTL, measured and modelled.
# 4. How to choose a TTL from a staleness budget (the longest TTL that meets it).
# 5. Why deleting the cached copy on every write still leaves a window.
#
# **What you'll need:** notebooks 00 (cache-aside) and 01 (TTLs; the fixed-TTL hit ratio λT/(1+λT)).
# **Time to learn**: about 50 min (core path: about 45 min).

# %% [markdown]
# ## Setup
#
# As before: `r` is the Redis client, `keys` names this notebook's keys (`rcp:02:...`), and `db` is the
# SQLite primary database with 1,000 users and a simulated 15 ms round trip per query. Every row has a
# `version` that each update increments, which is how we tell a stale copy from a fresh one.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend: fakeredis or a real server"
import json
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from helpers.core.backend import backend_info, connect
from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb02_stale_reads import check_longest_ttl, check_pick_ttl
from helpers.harness.timed_replay import READ, poisson_events, replay_on_schedule, share_with_error
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget, stale_read_share
from helpers.viz.plots import PALETTE, figure
from helpers.viz.widgets import tradeoff_explorer

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("02")  # every key of this notebook starts with rcp:02:
db = PrimaryDatabase(users=1000, delay_ms=15)  # SQLite, 15 ms of simulated latency per query

db

# %% tags=["verify"]
assert backend_info(r).is_real == bool(os.environ.get("REDIS_URL"))
print("Checked: the backend is a real server exactly when REDIS_URL names one.")

# %% [markdown]
# ## 1. A stale read, reproduced (core)
#
# The cache-aside lookup of [notebook 00](00_first_cache.ipynb), with a short TTL so that we can watch it run out: one
# second.

# %%
PROFILE_TTL_MS = 1_000


def get_profile(user_id):
    key = keys.key("user", user_id)
    cached = r.get(key)
    if cached is not None:
        return json.loads(cached)  # hit: whatever was cached, however old
    profile = db.get_user(user_id)  # miss: the current row
    r.set(key, json.dumps(profile), px=PROFILE_TTL_MS)
    return profile


# %% [markdown]
# The experiment: user 42's profile is read (a miss, so it is cached for 1 s). 0.3 s later the user moves to
# another city and the row is updated in the database. Then we keep reading the profile every 20 ms until a
# read shows the new city, and time how long the old one was served.
#
# **Predict:** how long after the update do readers still see the old city?

# %%
USER = 42
profile_key = keys.key("user", USER)
keys.cleanup(r)
before = get_profile(USER)  # a miss: the row is cached with a 1 s TTL
cached_at = time.perf_counter()
time.sleep(0.3)
new_city = "Osaka" if before["city"] != "Osaka" else "Quito"
after = db.update_user(USER, city=new_city)  # the database now has the new city (version + 1)
commit = db.query_log[-1]
committed_at = (commit.start + commit.end) / 2  # the simulated database commits halfway through its delay
pttl_asked_at = time.perf_counter()
cached_copy_left_ms = r.pttl(profile_key)  # how long the old copy has left
reads = []  # (started, ended, version served), seconds after the commit
while not reads or reads[-1][2] != after["version"]:
    started = time.perf_counter()
    served = get_profile(USER)
    reads.append((started - committed_at, time.perf_counter() - committed_at, served["version"]))
    time.sleep(0.02)
stale_reads = [read for read in reads if read[2] < after["version"]]
print(f"database: version {before['version']} ({before['city']}) -> version {after['version']} ({after['city']})")
print(
    f"the reads after the update returned version {before['version']} until the cached copy expired, "
    f"then version {reads[-1][2]}"
)

# %% tags=["verify"]
assert all(version == before["version"] for _, _, version in stale_reads)  # the old row, every time
assert len(stale_reads) == len(reads) - 1 >= 1  # every read but the last was stale
print("Checked: every read after the update but the last returned the old version.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Until the cached copy expires: for what was left of its 1 s TTL when the update landed, 0.3 s after the
# fill (the next cell measures it). The update does not touch the cache at all.
# </details>
#
# The **stale window** is the time from the database commit to the first read that returned the new row.
# It cannot end before the cached copy expires (a hit returns the copy, whatever the database says), and
# it ends at the first read after that, a miss that fetches the new row. So an update is served stale for
# at most one TTL (plus the wait for that next read); here, 0.3 s into the copy's life, for less.

# %% tags=["nbval-ignore-output"] output_varies="measured times"
stale_window_s = reads[-1][1]  # the first fresh read returned then
copy_expired_at = pttl_asked_at + cached_copy_left_ms / 1000 - committed_at  # a lower bound (PTTL came later)
print(f"{len(stale_reads)} stale reads; the cached copy had {cached_copy_left_ms} ms left just after the commit")
print(f"stale window: {stale_window_s * 1000:.0f} ms (TTL {PROFILE_TTL_MS} ms)")

# %% tags=["verify"]
assert stale_window_s >= copy_expired_at - 0.002  # no fresh read before the copy's TTL ran out
assert stale_window_s <= PROFILE_TTL_MS / 1000  # and within the TTL
print("Checked: the stale window lasted at least until the copy's TTL ran out, and never longer than the TTL.")

# %% [markdown]
# So the stale window is simply **what was left of the cached copy's TTL** when the database changed (plus
# the wait until the next read). An update that lands just after a fill is served stale for almost the full
# TTL; on average, half of it.
#
# ## 2. The stale window on a timeline (core)
#
# The same experiment as a picture: the version in the database (a line that steps up at the commit) and the
# version each read returned (a dot per read: red when stale, green when fresh). The shaded band is the stale
# window.

# %%
fig, ax = figure("One profile, one update, a 1 s TTL", r)
read_ms = np.array([(started + ended) / 2 for started, ended, _ in reads]) * 1000
served = np.array([version for _, _, version in reads])
is_stale = served < after["version"]
cached_ms = (cached_at - committed_at) * 1000  # about -300: cached 0.3 s before the commit
span_ms = (cached_ms - 100, read_ms.max() + 100)
ax.step(
    [span_ms[0], 0, span_ms[1]],
    [before["version"], after["version"], after["version"]],
    where="post",
    color=PALETTE["neutral"],
    label="database",
)
ax.scatter(read_ms[is_stale], served[is_stale], color=PALETTE["slow"], s=14, zorder=3, label="read: stale")
ax.scatter(read_ms[~is_stale], served[~is_stale], color=PALETTE["fast"], s=30, zorder=3, label="read: fresh")
ax.axvspan(0, stale_window_s * 1000, color=PALETTE["slow"], alpha=0.12, label="stale window")
ax.axvline(cached_ms, color=PALETTE["muted"], linestyle=":", label="profile cached (1 s TTL)")
ax.axvline(copy_expired_at * 1000, color=PALETTE["muted"], linestyle="--", label="cached copy expires")
versions = [before["version"], after["version"]]
ax.set(
    xlabel="ms after the database commit",
    ylabel="profile version",
    xlim=span_ms,
    yticks=versions,
    ylim=(versions[0] - 0.5, versions[1] + 0.5),
)
ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))  # clear of the lines
ax.spines[["top", "right"]].set_visible(False)
plt.show()

# %% tags=["verify"]
assert is_stale.sum() == len(stale_reads) and np.all(read_ms[is_stale] <= stale_window_s * 1000)
print("Checked: the picture draws exactly the stale reads counted above, all inside the stale window.")

# %% [markdown]
# ## 3. The trade-off in numbers (core)
#
# A longer TTL means fewer misses (more hits) and more time for the database to change under a cached copy
# (more stale reads). For one key read at λ reads per second, updated at μ updates per second, with a fixed
# TTL T and no invalidation, both have a closed form ([notebook 01](01_ttl_expiry.ipynb) measured the first):
#
# - hit ratio h = **λT / (1 + λT)**;
# - share of all reads that return stale data = **h · [1 - (1 - exp(-μT)) / (μT)]**: a hit is stale if an
#   update came between the fill and the read, and a hit's age is spread evenly over the TTL.
#
# Let's measure both, on the backend you run on (the figure's title names it). Five groups of 20 profiles,
# one group per TTL from 25 to 400 ms; every profile is read 10 times a second and updated twice a second
# (fast, so that two seconds of real time show it), each one with its own seeded Poisson streams. A separate
# database without the simulated delay holds them: here only versions matter. A read is stale when the
# version it returned is older than the latest write. As in [notebook 01](01_ttl_expiry.ipynb), the replay
# skips a request it reaches more than 5 ms late rather than bunching them up, and starts again (at most
# three times) if it had to skip more than 70 % of them.

# %%
READ_RATE, UPDATE_RATE = 10.0, 2.0  # per profile, per second
SWEEP_TTLS_MS = [25, 50, 100, 200, 400]
PROFILES_PER_TTL, DURATION_S, WARM_UP_S = 20, 2.0, 0.5
sweep_db = PrimaryDatabase(users=PROFILES_PER_TTL * len(SWEEP_TTLS_MS), delay_ms=0)  # no simulated latency
n_profiles = sweep_db.users
events = poisson_events([READ_RATE] * n_profiles, DURATION_S, seed=2, update_rates=[UPDATE_RATE] * n_profiles)
latest_version = {user_id: 1 for user_id in range(1, n_profiles + 1)}  # what the database holds


def sweep_read(user_id, ttl_ms):
    """Cache-aside with a fixed TTL; returns (hit?, version served)."""
    key = keys.key("sweep", user_id)
    cached = r.get(key)
    if cached is not None:
        return True, json.loads(cached)["version"]
    row = sweep_db.get_user(user_id)
    r.set(key, json.dumps(row), px=ttl_ms)
    return False, row["version"]


def handle(event):
    user_id, ttl_ms = event.key + 1, SWEEP_TTLS_MS[event.key // PROFILES_PER_TTL]
    if event.kind == READ:
        hit, version = sweep_read(user_id, ttl_ms)
        return hit, version < latest_version[user_id]  # (hit?, stale?)
    latest_version[user_id] = sweep_db.update_user(user_id, city="Tallinn")["version"]  # no invalidation
    return None


print(
    f"{sum(e.kind == READ for e in events):,} reads and {sum(e.kind != READ for e in events):,} updates "
    f"of {n_profiles} profiles in {DURATION_S} s"
)


# %%
def empty_sweep_cache():
    """Each attempt starts with none of the sweep's profiles cached."""
    r.delete(*(keys.key("sweep", user_id) for user_id in range(1, n_profiles + 1)))


sweep = replay_on_schedule(events, handle, reset=empty_sweep_cache)
is_read = np.array([e.kind == READ for e in events])
after_warm_up = sweep.ran & np.array([e.at_s >= WARM_UP_S for e in events])  # requests that ran, after the warm-up
counted = is_read & after_warm_up
outcome = np.array([result or (False, False) for result in sweep.results])  # per request: (hit?, stale?)
group = np.array([e.key // PROFILES_PER_TTL for e in events])
profile = np.array([e.key for e in events])
print(f"replayed {len(events):,} scheduled requests for {DURATION_S} s")

# %% [markdown]
# For each TTL: the measured hit ratio and stale share, each with its standard error (per profile), next to
# the closed forms at the read and update rates of the requests that really ran (if the replay had to skip
# some, both rates are a little lower).

# %% tags=["nbval-ignore-output"] output_varies="measured shares carry sampling noise and timing"
achieved_read = counted.sum() / (n_profiles * (DURATION_S - WARM_UP_S))  # reads per second per profile
achieved_update = (after_warm_up & ~is_read).sum() / (n_profiles * (DURATION_S - WARM_UP_S))
measured = []  # (TTL s, hit ratio, error, stale share, error)
for index, ttl_ms in enumerate(SWEEP_TTLS_MS):
    mask = counted & (group == index)
    hit, hit_error = share_with_error(outcome[mask, 0], profile[mask])
    stale, stale_error = share_with_error(outcome[mask, 1], profile[mask])
    measured.append((ttl_ms / 1000, hit, hit_error, stale, stale_error))
for ttl_s, hit, hit_error, stale, stale_error in measured:
    hit_model = fixed_ttl_hit_ratio(achieved_read, ttl_s)
    stale_model = stale_read_share(achieved_read, achieved_update, ttl_s)
    print(
        f"TTL {ttl_s * 1000:3.0f} ms: hits {hit:.3f} ± {hit_error:.3f} (model {hit_model:.3f}), "
        f"stale {stale:.3f} ± {stale_error:.3f} (model {stale_model:.3f})"
    )
print(
    f"ran {achieved_read:.2f} reads/s and {achieved_update:.2f} updates/s per profile; "
    f"skipped {sweep.skipped} (attempt {sweep.attempts})"
)

# %% tags=["verify"]
for ttl_s, hit, hit_error, stale, stale_error in measured:
    hit_model = fixed_ttl_hit_ratio(achieved_read, ttl_s)
    stale_model = stale_read_share(achieved_read, achieved_update, ttl_s)
    assert abs(hit - hit_model) <= 4 * hit_error + 0.03, (measured, sweep.skipped, sweep.lag)
    assert abs(stale - stale_model) <= 4 * stale_error + 0.02, (measured, sweep.skipped, sweep.lag)
# Stale reads grow with the TTL: the longest TTL serves more of them than the shortest, by what the model says at
# the rates that ran (a fixed 0.08 line failed by chance when a busy replay ran half the reads).
shortest_ttl, *_, shortest_stale, shortest_error = measured[0]
longest_ttl, *_, longest_stale, longest_error = measured[-1]
model_growth = stale_read_share(achieved_read, achieved_update, longest_ttl) - stale_read_share(
    achieved_read, achieved_update, shortest_ttl
)
growth, growth_error = longest_stale - shortest_stale, float(np.hypot(longest_error, shortest_error))
assert growth > 0 and abs(growth - model_growth) <= 4 * growth_error + 0.02, (measured, model_growth)
print(
    "Checked: every hit ratio and stale share is within its error bars of the model, and stale reads grow with the TTL."
)

# %%
curve_ttls = np.geomspace(0.01, 1.0, 200)
points = np.array(measured)
fig, ax = figure(f"Hit ratio and stale reads against the TTL ({READ_RATE:g} reads/s, {UPDATE_RATE:g} updates/s)", r)
ax.plot(
    curve_ttls * 1000,
    fixed_ttl_hit_ratio(achieved_read, curve_ttls),
    color=PALETTE["fast"],
    label="hit ratio: λT/(1+λT)",
)
ax.plot(
    curve_ttls * 1000,
    stale_read_share(achieved_read, achieved_update, curve_ttls),
    color=PALETTE["slow"],
    label="stale reads: h·[1-(1-exp(-μT))/(μT)]",
)
ax.errorbar(
    points[:, 0] * 1000, points[:, 1], yerr=2 * points[:, 2], fmt="o", color=PALETTE["fast"], label="measured (±2 s.e.)"
)
ax.errorbar(points[:, 0] * 1000, points[:, 3], yerr=2 * points[:, 4], fmt="s", color=PALETTE["slow"])
ax.set(xscale="log", xlabel="TTL (ms, log scale)", ylabel="share of reads", ylim=(0, 1.02))
ax.legend(fontsize=8, frameon=False, loc="upper left")
ax.spines[["top", "right"]].set_visible(False)
plt.show()


def doubling(ttl_s):
    """What doubling the TTL from ttl_s adds: (points of hit ratio, points of stale share), closed forms."""
    hits = fixed_ttl_hit_ratio(READ_RATE, 2 * ttl_s) - fixed_ttl_hit_ratio(READ_RATE, ttl_s)
    stale = stale_read_share(READ_RATE, UPDATE_RATE, 2 * ttl_s) - stale_read_share(READ_RATE, UPDATE_RATE, ttl_s)
    return hits, stale


# %% tags=["verify"]
assert points.shape == (len(SWEEP_TTLS_MS), 5)  # every TTL is drawn, and each was checked above
assert doubling(0.025)[0] > 5 * doubling(0.025)[1]  # short TTLs: far more hits than stale reads
assert doubling(0.2)[1] > 0.8 * doubling(0.2)[0]  # past the knee: about as many stale reads as hits
print("Checked: doubling a 25 ms TTL adds over 5 times more hits than stale reads; from 200 ms, nearly as many.")

# %% [markdown]
# Read the two curves together. While the TTL is short, doubling it buys many more hits than stale reads
# (from 25 to 50 ms: more than five times as many). Past the knee, around λT ≈ 1 (here 100 ms), the hit
# ratio flattens (it can only approach 1) while the stale share keeps climbing towards it: doubling the TTL
# from 200 to 400 ms adds about as many stale reads as hits. Where to stop depends on how much staleness the
# product can live with, which is the next section.
#
# ### Explore it yourself
#
# Sliders for the read rate, the update rate and the TTL redraw the same trade-off (closed forms), with your
# TTL and the longest TTL that keeps stale reads within 1 % marked. (If it does not show up, run the cell
# again.)

# %% tags=["nbval-ignore-output"] output_varies="a live widget: its model id changes on every run"
explorer = tradeoff_explorer(read_rate=2, update_rate=0.01, ttl_s=60)
explorer

# %% [markdown]
# Driven from code: a profile viewed twice a second and edited every ten minutes, with a 60 s TTL.

# %%
view = explorer.set(read_rate=2, update_rate=1 / 600, ttl_s=60)
view.caption()

# %% tags=["verify"]
assert abs(view.hit_ratio - fixed_ttl_hit_ratio(2, 60)) < 1e-12
assert abs(view.stale_share - stale_read_share(2, 1 / 600, 60)) < 1e-12 and view.stale_share > 0.01
assert view.longest_ttl_s < 60 and explorer.caption.value == view.caption() and explorer.image.value
print("Checked: the explorer shows the closed forms, and a 60 s TTL is over the 1 % budget here.")

# %% [markdown]
# ## 4. A staleness budget (core)
#
# Turn the question around. The product states how much staleness it accepts, for example *"at most 1 % of
# profile views may show an outdated profile"*; the read and update rates come from your metrics. Since the
# stale share only grows with the TTL, there is one longest TTL that meets the budget, and
# `longest_ttl_for_stale_budget` finds it (a bisection on the closed form, in `helpers/sim/ttl_models.py`;
# exercise 02.2 has you write it).

# %%
views_per_s, edits_per_s, budget = 2.0, 1 / 600, 0.01  # 2 views a second, one edit every 10 minutes, 1 %
ttl_s = longest_ttl_for_stale_budget(views_per_s, edits_per_s, budget)
print(
    f"longest TTL: {ttl_s:.1f} s, which serves {fixed_ttl_hit_ratio(views_per_s, ttl_s):.1%} of views "
    f"from the cache with {stale_read_share(views_per_s, edits_per_s, ttl_s):.2%} of them stale"
)

# %% tags=["verify"]
assert abs(stale_read_share(views_per_s, edits_per_s, ttl_s) - budget) < 1e-9  # exactly on budget
assert stale_read_share(views_per_s, edits_per_s, ttl_s * 1.1) > budget  # any longer TTL is over it
print("Checked: the TTL found serves exactly 1 % stale reads, and a 10 % longer one more.")

# %% [markdown]
# A budget is also a test of the design. If the TTL it allows gives too few hits for the load the database
# can take, no TTL meets both requirements, and the answer is not a better TTL but invalidation on write
# ([notebook 03](03_invalidation.ipynb)).

# %% [markdown]
# ## 5. Even invalidation leaves a window (going deeper)
#
# The obvious fix is to delete the cached copy whenever the row changes (*update the database, then delete
# the key*). It shrinks the stale window from "the rest of the TTL" to "the time between the commit and the
# delete", but does not close it. A read that lands between the two steps gets the old copy:


# %%
def update_city(user_id, city):
    """Delete-on-write: update the database, then delete the cached copy."""
    row = db.update_user(user_id, city=city)  # 1. commit
    r.delete(keys.key("user", user_id))  # 2. invalidate
    return row


get_profile(USER)  # cached
row = db.update_user(USER, city="Zurich")  # step 1 of update_city ...
read_between = get_profile(USER)  # ... a read lands here ...
r.delete(profile_key)  # ... then step 2
read_after = get_profile(USER)
read_between["city"], read_after["city"]

# %% tags=["verify"]
assert read_between["version"] < row["version"] == read_after["version"]
print("Checked: the read between commit and delete got the old row, the read after it the new one.")

# %% [markdown]
# That window is short (a network round trip or two). A worse one comes from a slow reader, the **stale
# set** race: a read misses and fetches the row; an update commits and deletes the key (nothing is cached
# yet); then the slow reader stores the row it fetched, which is now old. Here are the steps in that order:

# %%
r.delete(profile_key)
fetched = db.get_user(USER)  # reader: a miss, fetches the row (still "Zurich")
update_city(USER, "Nairobi")  # writer: commits, then deletes the key (there is nothing to delete)
r.set(profile_key, json.dumps(fetched), px=PROFILE_TTL_MS)  # reader: caches what it fetched: the old row
get_profile(USER)["city"], db.get_user(USER)["city"]

# %% tags=["verify"]
assert get_profile(USER)["city"] == "Zurich" and db.get_user(USER)["city"] == "Nairobi"
assert 0 < r.pttl(profile_key) <= PROFILE_TTL_MS  # served stale until this TTL ends: the TTL is the backstop
print("Checked: after the stale set the cache serves the old city, the database the new one, until the TTL ends.")

# %% [markdown]
# The cache now serves "Zurich" while the database says "Nairobi", and nothing will fix it but the TTL. This
# is why a TTL stays on every cached value even with invalidation, and why [notebook 03](03_invalidation.ipynb) is about
# closing these windows (leases, versioned writes).

# %% [markdown]
# ## Your turn
#
# ### Exercise 02.1: A TTL from a requirement (core, about 5 min)
#
# Write `pick_ttl(read_rate, update_rate, max_stale_share, min_hit_ratio)`, the TTL (in seconds) you would
# configure for a requirement:
#
# - the **longest** TTL whose stale-read share stays within `max_stale_share`
#   (`longest_ttl_for_stale_budget` computes it);
# - but if that TTL gives a hit ratio below `min_hit_ratio` (`fixed_ttl_hit_ratio`), no TTL meets both:
#   return `None` (that case needs invalidation, not a TTL).
#
# The check tries a profile page, a settings page, and a price that changes every minute. Stuck after a real
# try? The worked solution is in [solutions/02_stale_reads.py](solutions/02_stale_reads.py).


# %% tags=["exercise"]
def pick_ttl(read_rate, update_rate, max_stale_share, min_hit_ratio):
    """The longest TTL (s) within the stale budget, or None when it cannot give min_hit_ratio."""
    # BEGIN SOLUTION
    ttl_s = longest_ttl_for_stale_budget(read_rate, update_rate, max_stale_share)
    if fixed_ttl_hit_ratio(read_rate, ttl_s) < min_hit_ratio:
        return None
    return ttl_s
    # END SOLUTION


# %% tags=["check"]
check_pick_ttl(pick_ttl)

# %% [markdown]
# ### Exercise 02.2: Compute the staleness budget yourself (core, about 15 min)
#
# `longest_ttl_for_stale_budget` did the work in section 4 and in 02.1. Now write it:
# `longest_ttl_within_budget(read_rate, update_rate, max_stale_share)` returns the longest TTL (seconds)
# whose stale share `stale_read_share(read_rate, update_rate, ttl)` is at most `max_stale_share`.
# Use only `stale_read_share` (the closed form of section 3), not `longest_ttl_for_stale_budget`.
#
# The stale share only grows with the TTL, which makes this a **bisection**: start with a TTL that is
# surely within the budget (`low`, e.g. 1e-9 s) and one that is over it (`high`: start at 1 s and double it
# until it is over); then, about 60 times, test the middle and move `low` or `high` to it. Return `low`.
#
# The check tries four requirements and requires each answer to be within the budget, and 1 % more to be
# over it. Solution: [solutions/02_stale_reads.py](solutions/02_stale_reads.py).


# %% tags=["exercise"]
def longest_ttl_within_budget(read_rate, update_rate, max_stale_share):
    """The longest TTL (s) whose stale-read share is at most max_stale_share, found by bisection."""
    # BEGIN SOLUTION
    low, high = 1e-9, 1.0
    while stale_read_share(read_rate, update_rate, high) <= max_stale_share:
        low, high = high, 2 * high  # grow until the TTL is over the budget
    for _ in range(60):
        middle = (low + high) / 2
        if stale_read_share(read_rate, update_rate, middle) <= max_stale_share:
            low = middle  # within the budget: the answer is at least this long
        else:
            high = middle
    return low
    # END SOLUTION


# %% tags=["check"]
check_longest_ttl(longest_ttl_within_budget)

# %% [markdown]
# ## Summary
#
# - With a TTL and no invalidation, a database update is served stale until the cached copy expires: the
#   stale window is what was left of its TTL, measured above, and never longer than the TTL.
# - For λ reads and μ updates per second: hit ratio λT/(1+λT), stale share h·[1-(1-exp(-μT))/(μT)];
#   both were measured (on the backend the figure names) and sit on the curves within their error bars.
#   Past λT ≈ 1 a longer TTL buys few hits for many stale reads.
# - A staleness budget gives one longest TTL, found by bisection because the stale share only grows with
#   the TTL (you wrote it in 02.2); if it cannot give enough hits, the design needs invalidation.
# - Deleting on write shrinks the window but leaves races (a read between commit and delete, the stale set);
#   the TTL stays as the backstop.
#
# ## Further reading
#
# - Redis docs, [client-side caching](https://redis.io/docs/latest/develop/clients/client-side-caching/)
#   (server-assisted invalidation with `CLIENT TRACKING`).
# - Nishtala et al.,
#   [Scaling Memcache at Facebook](https://www.usenix.org/conference/nsdi13/technical-sessions/presentation/nishtala)
#   (NSDI 2013): delete-on-write, leases and the stale-set race.
# - AWS,
#   [database caching strategies: cache validity](https://docs.aws.amazon.com/whitepapers/latest/database-caching-strategies-using-redis/cache-validity.html).
#
# ## Cleanup
#
# Delete every key this notebook wrote (found by `SCAN` over `rcp:02:<you>:*`, nothing else).

# %%
deleted = keys.cleanup(r)
print(f"deleted this notebook's keys under {keys.notebook_prefix}")

# %% tags=["verify"]
assert keys.count(r) == 0
print("Checked: no key of this notebook is left on the server.")
