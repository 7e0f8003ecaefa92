"""Private groups of servers for notebook 07: a primary with replicas, and a 3-shard Redis Cluster.

Every member is a ``SandboxRedis`` (loopback, nothing on disk, stopped with the group, at exit, and when the
kernel dies, even by SIGKILL). Each member of a ``ReplicaSet`` has its own secret; a replica learns the
primary's with ``CONFIG SET masterauth`` (never on a command line). A ``SandboxCluster``'s nodes share one
secret, since a cluster client logs in to every node with the same password; its bus ports are ``port + 10000``.

The replication link can be cut and restored on purpose (``cut_link``/``restore_link``): the replica's
``masterauth`` is made wrong and its link to the primary killed, so it keeps serving what it has while the
primary goes on acknowledging writes. That is how notebook 07 opens a lag window deterministically on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis
from redis.cluster import ClusterNode, RedisCluster

from helpers.core.clock import REAL_CLOCK
from helpers.core.sandbox import SandboxRedis, find_redis_server

SLOTS = 16384
WRONG_SECRET = "not-the-primary-secret"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` every 10 ms until it holds; RuntimeError naming ``what`` after ``timeout`` seconds."""
    if not REAL_CLOCK.wait_for(condition, timeout, block=lambda seconds: REAL_CLOCK.sleep(min(seconds, 0.01))):
        raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


def link_is_up(replica: redis.Redis) -> bool:
    """True when a replica's link to its primary is up and the first sync is done."""
    info = replica.info("replication")
    return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress", 0)


class ReplicaSet:
    """A private primary with ``replicas`` replicas: ``with ReplicaSet(1) as rs: rs.primary.set(...)``."""

    def __init__(self, replicas: int = 1, *, binary: str | None = None) -> None:
        if replicas < 1:
            raise ValueError(f"a replica set needs at least one replica, not {replicas}")
        self.count = replicas
        self.binary = binary
        self.servers: list[SandboxRedis] = []  # [primary, replica 0, replica 1, ...]
        self.primary: redis.Redis | None = None
        self.replicas: list[redis.Redis] = []
        self.label = ""

    def start(self) -> ReplicaSet:
        """Start the primary and its replicas and wait until every replica has synced; return self."""
        if self.servers:
            return self
        binary = self.binary or find_redis_server()
        settings = {"repl-diskless-sync-delay": 0}  # no 5 s wait before the first sync
        try:
            self.servers = [SandboxRedis(settings, binary=binary).start() for _ in range(self.count + 1)]
            self.primary = self.servers[0].client()
            self.replicas = [server.client() for server in self.servers[1:]]
            for replica in self.replicas:
                replica.config_set("masterauth", self.servers[0].config["requirepass"])
                replica.execute_command("REPLICAOF", "127.0.0.1", self.servers[0].port)
            for replica in self.replicas:
                wait_for(lambda replica=replica: link_is_up(replica), "a replica's first sync")
        except BaseException:
            self.stop()
            raise
        self.label = self.servers[0].label
        return self

    def stop(self) -> None:
        """Close the clients and stop every server; safe to call twice."""
        for client in [self.primary, *self.replicas]:
            if client is not None:
                client.close()
        for server in self.servers:
            server.stop()
        self.servers, self.primary, self.replicas = [], None, []

    def __enter__(self) -> ReplicaSet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def describe(self) -> str:
        """One sentence: what is running."""
        return f"A private {self.label} primary with {self.count} replica(s) on loopback, stopped at Cleanup."

    # -- the replication link, on purpose -------------------------------------------------------------
    def cut_link(self, index: int = 0) -> None:
        """Stop replica ``index`` from receiving anything: a wrong masterauth, then its link killed."""
        replica = self.replicas[index]
        connected = self.connected_replicas()
        replica.config_set("masterauth", WRONG_SECRET)
        replica.client_kill_filter(_type="master")
        wait_for(lambda: replica.info("replication").get("master_link_status") != "up", "the link to go down")
        wait_for(lambda: self.connected_replicas() < connected, "the primary to notice the link is gone")

    def restore_link(self, index: int = 0) -> None:
        """Give replica ``index`` the primary's secret back and wait until it has caught up."""
        replica = self.replicas[index]
        replica.config_set("masterauth", self.servers[0].config["requirepass"])
        wait_for(lambda: link_is_up(replica), "the replica to reconnect (it retries once a second)")
        self.wait_for_replicas(self.connected_replicas())

    def is_cut(self, index: int) -> bool:
        """True while replica ``index`` has the wrong masterauth (its link was cut by ``cut_link``)."""
        return self.replicas[index].config_get("masterauth").get("masterauth") == WRONG_SECRET

    def connected_replicas(self) -> int:
        """How many replicas the primary counts as connected."""
        assert self.primary is not None, "the replica set is not running"
        return int(self.primary.info("replication").get("connected_slaves", 0))

    def wait_for_replicas(self, count: int, timeout_ms: int = 2000) -> int:
        """``WAIT count timeout_ms`` on the primary: how many replicas acknowledged every write so far."""
        assert self.primary is not None, "the replica set is not running"
        return int(self.primary.execute_command("WAIT", count, timeout_ms))

    def promote(self, index: int = 0) -> redis.Redis:
        """Fail over: stop the primary, make replica ``index`` a primary (REPLICAOF NO ONE); return its client."""
        assert self.primary is not None, "the replica set is not running"
        self.primary.close()
        self.servers[0].stop()
        promoted = self.replicas[index]
        promoted.execute_command("REPLICAOF", "NO", "ONE")
        self.primary = promoted
        self.servers = [self.servers[index + 1]] + [s for i, s in enumerate(self.servers[1:]) if i != index]
        self.replicas = [c for i, c in enumerate(self.replicas) if i != index]
        self.count = len(self.replicas)
        return promoted


class SandboxCluster:
    """A private Redis Cluster of ``shards`` primaries, slots split evenly: ``with SandboxCluster() as c: ...``."""

    def __init__(self, shards: int = 3, *, binary: str | None = None) -> None:
        if shards < 1:
            raise ValueError(f"a cluster needs at least one shard, not {shards}")
        self.shards = shards
        self.binary = binary
        self.servers: list[SandboxRedis] = []
        self.nodes: list[redis.Redis] = []  # a plain client per node, in slot order
        self.client: RedisCluster | None = None
        self.label = ""

    def slot_ranges(self) -> list[tuple[int, int]]:
        """The first and last slot each shard owns, as ``redis-cli --cluster create`` splits them."""
        bounds = [round(i * SLOTS / self.shards) for i in range(self.shards + 1)]
        return [(bounds[i], bounds[i + 1] - 1) for i in range(self.shards)]

    def start(self) -> SandboxCluster:
        """Start the nodes, give each its slots, introduce them, wait for ``cluster_state:ok``; return self."""
        if self.servers:
            return self
        binary = self.binary or find_redis_server()
        settings = {"cluster-enabled": "yes", "cluster-config-file": "nodes.conf", "cluster-node-timeout": 5000}
        try:
            first = SandboxRedis(settings, binary=binary, cluster_bus=True).start()
            secret = first.config["requirepass"]
            shared = dict(settings, requirepass=secret)
            others = [SandboxRedis(shared, binary=binary, cluster_bus=True).start() for _ in range(self.shards - 1)]
            self.servers = [first, *others]
            self.nodes = [server.client() for server in self.servers]
            for node, (low, high) in zip(self.nodes, self.slot_ranges(), strict=True):
                node.execute_command("CLUSTER", "ADDSLOTS", *range(low, high + 1))  # ADDSLOTSRANGE is 7.0+
            for server in self.servers[1:]:
                self.nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", server.port)
            wait_for(self._agreed, "the cluster to agree on its slots")
            self.client = RedisCluster(
                startup_nodes=[ClusterNode("127.0.0.1", s.port) for s in self.servers],
                password=secret,
                decode_responses=True,
            )
        except BaseException:
            self.stop()
            raise
        self.label = first.label
        return self

    def _agreed(self) -> bool:
        for node in self.nodes:
            info = node.execute_command("CLUSTER", "INFO")
            info = info if isinstance(info, str) else info.decode()
            if "cluster_state:ok" not in info or f"cluster_known_nodes:{self.shards}" not in info:
                return False
            if f"cluster_slots_ok:{SLOTS}" not in info:
                return False
        return True

    def stop(self) -> None:
        """Close the clients and stop every node; safe to call twice."""
        if self.client is not None:
            self.client.close()
        for node in self.nodes:
            node.close()
        for server in self.servers:
            server.stop()
        self.servers, self.nodes, self.client = [], [], None

    def __enter__(self) -> SandboxCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def describe(self) -> str:
        """One sentence: what is running."""
        return f"A private {self.shards}-shard Redis Cluster ({self.label}) on loopback, stopped at Cleanup."

    def shard_of_slot(self, slot: int) -> int:
        """Which shard (0, 1, ...) owns ``slot`` in the split this cluster was created with."""
        for index, (low, high) in enumerate(self.slot_ranges()):
            if low <= slot <= high:
                return index
        raise ValueError(f"slot {slot} is outside 0..{SLOTS - 1}")

    def node_id(self, shard: int) -> str:
        """The cluster's id of the node of ``shard`` (CLUSTER MYID)."""
        found = self.nodes[shard].execute_command("CLUSTER", "MYID")
        return found if isinstance(found, str) else found.decode()

    def move_slot(self, slot: int, to_shard: int) -> int:
        """Move ``slot`` and its keys to ``to_shard``, like ``redis-cli --cluster reshard``; return the keys moved."""
        source, target = self.nodes[self.owner_of(slot)], self.nodes[to_shard]
        source_id, target_id = self.node_id(self.owner_of(slot)), self.node_id(to_shard)
        if source_id == target_id:
            return 0
        target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        moved = 0
        secret = self.servers[0].config["requirepass"]
        while names := source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            port = self.servers[to_shard].port
            source.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "AUTH", secret, "KEYS", *names)
            moved += len(names)
        for node in (target, source, *self.nodes):  # the new owner first, as redis-cli does
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        wait_for(lambda: all(self._owner_seen_by(node, slot) == target_id for node in self.nodes), "the move to spread")
        return moved

    def owner_of(self, slot: int) -> int:
        """Which shard owns ``slot`` now, as the first node sees it (CLUSTER SLOTS)."""
        owner = self._owner_seen_by(self.nodes[0], slot)
        return next(i for i in range(self.shards) if self.node_id(i) == owner)

    @staticmethod
    def _owner_seen_by(node: redis.Redis, slot: int) -> str:
        for low, high, primary, *_ in node.execute_command("CLUSTER", "SLOTS"):
            if int(low) <= slot <= int(high):
                found = primary[2]
                return found if isinstance(found, str) else found.decode()
        return ""

    def calls_per_shard(self, command: str = "get") -> list[int]:
        """How many times each shard has run ``command`` (INFO commandstats: exact, these nodes are private)."""
        counts = []
        for node in self.nodes:
            stats = node.info("commandstats").get(f"cmdstat_{command.lower()}", {})
            counts.append(int(stats.get("calls", 0)))
        return counts

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT on every node (private nodes: nobody else's numbers change)."""
        for node in self.nodes:
            node.config_resetstat()


def read_during_burst(
    writer: redis.Redis, readers: Sequence[redis.Redis], key: str, count: int
) -> tuple[int, list[int]]:
    """Send ``count`` INCRs of ``key`` to ``writer`` without waiting for replies, read ``key`` on each of ``readers``
    in turn while they arrive, then collect the replies: (the writer's value after the burst, the values read)."""
    pool = writer.connection_pool
    try:
        connection = pool.get_connection()
    except TypeError:  # redis-py before 5.3 wants a command name
        connection = pool.get_connection("INCR")
    try:
        connection.send_packed_command(connection.pack_commands([("INCR", key)] * count))
        seen = [int(reader.get(key) or 0) for reader in readers]  # while the burst is still arriving
        replies = [connection.read_response() for _ in range(count)]
    except BaseException:
        connection.disconnect()  # replies may be left unread: never hand this connection back half-read
        raise
    finally:
        pool.release(connection)
    return int(replies[-1]), seen
