"""Replay a request sequence against Redis as pipelined cache-aside (for eviction hit ratios): fast and exact.

Each request is one EVALSHA of ``CACHE_ASIDE_SCRIPT``: GET the key, and on a miss SET it (a value of
``value_bytes`` bytes, with a TTL). Running the logic inside Redis keeps the value off the network,
and pipelining thousands of requests per round trip (over a plain socket, replies parsed with numpy)
replays 200,000 requests in about a second. After each chunk a DBSIZE records how many keys are
resident, so models can be given the same cache size.

A client that offers the replay's two operations itself (``BulkReplayTarget``: ``replay_cache_aside`` and
``read_repeatedly``), such as ``sim.simulated_redis.SimulatedRedis``, runs them; any other client is a
real server, driven over a plain socket by ``PipelinedServer``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import redis
from numpy.typing import ArrayLike

from helpers.core.errors import InvalidArgument, require_whole
from helpers.core.keys import KeySpace
from helpers.sim.cache_models import hit_ratio
from helpers.sim.simulated_redis import SimulatedRedis

CACHE_ASIDE_SCRIPT = """\
if redis.call('GET', KEYS[1]) then return 1 end
redis.call('SET', KEYS[1], string.rep('v', tonumber(ARGV[1])), 'PX', ARGV[2])
return 0
"""
READ_REPEATEDLY_SCRIPT = "for i = 1, tonumber(ARGV[1]) do redis.call('GET', KEYS[1]) end return 1"
DEFAULT_VALUE_BYTES = 1024
DEFAULT_TTL_MS = 3_600_000
CHUNK = 1000  # requests per round trip


@dataclass(frozen=True)
class ReplayResult:
    """Per-request hits, the resident key count after each chunk, and when the requests ran."""

    hits: np.ndarray
    resident_keys: np.ndarray
    times_s: np.ndarray  # each request's time on the server's clock (Unix seconds, interpolated per chunk)
    seconds: float  # duration of the replay (wall clock; the simulated clock for the simulator)

    def hit_ratio(self, warmup: int = 0) -> float:
        """Share of hits among the requests after the first ``warmup`` (``sim.cache_models.hit_ratio``)."""
        return hit_ratio(self.hits, warmup)

    def mean_resident(self, warmup: int = 0) -> float:
        """Average number of resident keys over the chunks that end after ``warmup`` requests."""
        ends = np.minimum(np.arange(1, len(self.resident_keys) + 1) * CHUNK, len(self.hits))
        return float(self.resident_keys[ends > warmup].mean())

    @property
    def requests_per_s(self) -> float:
        """Replay speed."""
        return len(self.hits) / self.seconds if self.seconds > 0 else float("inf")


def item_key(keys: KeySpace, rank: int) -> str:
    """The key of catalogue item ``rank`` (fixed width, so every key costs the same memory)."""
    return keys.key("item", f"{int(rank):06d}")


@runtime_checkable
class BulkReplayTarget(Protocol):
    """What the replay asks of a server: the two operations it runs (``PipelinedServer`` does them on Redis)."""

    def replay_cache_aside(
        self, names: Sequence[str], *, value_bytes: int, ttl_ms: int, chunk: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(hits, resident keys after each chunk, each request's server time in Unix s, seconds taken)."""
        ...

    def read_repeatedly(self, key: str, times: int) -> None:
        """GET ``key`` ``times`` times, on the server."""
        ...


def bulk_target(client: redis.Redis | BulkReplayTarget) -> BulkReplayTarget:
    """``client`` itself if it runs the replay's operations (the simulator does), else a ``PipelinedServer``."""
    return client if isinstance(client, BulkReplayTarget) else PipelinedServer(client)


def replay_cache_aside(
    client: redis.Redis | SimulatedRedis,
    ranks: ArrayLike,
    keys: KeySpace,
    *,
    value_bytes: int = DEFAULT_VALUE_BYTES,
    ttl_ms: int = DEFAULT_TTL_MS,
) -> ReplayResult:
    """Replay ``ranks`` (item ids) as cache-aside requests against ``client``; see the module docstring."""
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0 or not np.issubdtype(ranks.dtype, np.integer) or ranks.min() < 0:
        raise InvalidArgument("ranks must be a non-empty 1-D array of item ids >= 0 (zipf_requests(...)).")
    value_bytes = require_whole("value_bytes", value_bytes, minimum=1)
    ttl_ms = require_whole("ttl_ms", ttl_ms, minimum=1)
    names = {rank: item_key(keys, rank) for rank in np.unique(ranks).tolist()}
    replayed = bulk_target(client).replay_cache_aside(
        [names[rank] for rank in ranks.tolist()], value_bytes=value_bytes, ttl_ms=ttl_ms, chunk=CHUNK
    )
    return ReplayResult(*replayed)


def calibrate_maxmemory(
    client: redis.Redis | SimulatedRedis, keys: KeySpace, capacity_keys: int, *, value_bytes: int = DEFAULT_VALUE_BYTES
) -> int:
    """The maxmemory at which about ``capacity_keys`` replayed items stay resident (deletes the notebook's keys).

    It replays ``capacity_keys`` distinct items with no limit, in chunks as large as a real replay's so the
    connection's buffers are counted as they will be, reads ``used_memory``, then deletes those items.
    """
    capacity_keys = require_whole("capacity_keys", capacity_keys, minimum=1)
    if int(client.config_get("maxmemory")["maxmemory"]) != 0:
        raise InvalidArgument("calibrate_maxmemory needs maxmemory 0 (no limit) while it measures; restore it first.")
    every_item = np.resize(np.arange(capacity_keys), max(capacity_keys, 2 * CHUNK))  # full-size chunks
    for _ in range(2):  # the first pass lets the server's buffers grow to their working size
        keys.cleanup(client)
        replay_cache_aside(client, every_item, keys, value_bytes=value_bytes)
    used = int(client.info("memory")["used_memory"])
    one_key = int(client.memory_usage(item_key(keys, 0)) or 0)
    keys.cleanup(client)
    return used + one_key // 2


def read_repeatedly(client: redis.Redis | SimulatedRedis, key: str, times: int) -> None:
    """GET ``key`` ``times`` times (inside Redis, in one script call), as that many cache hits would."""
    bulk_target(client).read_repeatedly(key, require_whole("times", times))


# -- the real server ----------------------------------------------------------------------------
def _command(*parts: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _open_socket(client: redis.Redis) -> socket.socket:
    kwargs = client.connection_pool.connection_kwargs
    if "SSL" in client.connection_pool.connection_class.__name__:
        raise InvalidArgument("the pipelined replay needs a plain TCP or Unix-socket connection, not TLS.")
    if "path" in kwargs:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(kwargs["path"])
    else:
        sock = socket.create_connection((kwargs.get("host", "localhost"), int(kwargs.get("port", 6379))), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(30)
    hello = []
    if kwargs.get("password"):
        hello.append(_command("AUTH", *([kwargs["username"]] if kwargs.get("username") else []), kwargs["password"]))
    if int(kwargs.get("db") or 0):
        hello.append(_command("SELECT", int(kwargs["db"])))
    if hello:
        sock.sendall(b"".join(hello))
        _read_lines(sock, bytearray(), len(hello))
    return sock


def _read_lines(sock: socket.socket, buffer: bytearray, lines: int) -> bytes:
    """Read until ``buffer`` holds ``lines`` single-line replies; raise on an error reply."""
    seen = 0
    scanned = 0
    while seen < lines:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the Redis server closed the connection during the replay.")
        buffer += chunk
        seen += buffer.count(b"\r\n", max(scanned - 1, 0))
        scanned = len(buffer)
    data = bytes(buffer)
    at = 0 if data.startswith(b"-") else data.find(b"\n-") + 1
    if at or data.startswith(b"-"):
        message = data[at + 1 :].split(b"\r\n", 1)[0].decode(errors="replace")
        if message.startswith("OOM "):
            raise redis.exceptions.OutOfMemoryError(message[4:])
        raise redis.ResponseError(message)
    return data


class PipelinedServer:
    """A real server seen as a ``BulkReplayTarget``: the replay's operations as Lua, pipelined over a socket."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def read_repeatedly(self, key: str, times: int) -> None:
        """GET ``key`` ``times`` times inside Redis, in one script call."""
        self.client.eval(READ_REPEATEDLY_SCRIPT, 1, key, times)

    def replay_cache_aside(
        self, names: Sequence[str], *, value_bytes: int, ttl_ms: int, chunk: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """One EVALSHA of ``CACHE_ASIDE_SCRIPT`` per name, ``chunk`` per round trip, each chunk ending in DBSIZE."""
        client = self.client
        sha = client.script_load(CACHE_ASIDE_SCRIPT)
        commands = {name: _command("EVALSHA", sha, 1, name, value_bytes, ttl_ms) for name in set(names)}
        dbsize = _command("DBSIZE")
        hits = np.empty(len(names), dtype=bool)
        times = np.empty(len(names), dtype=float)
        resident = []
        seconds, micros = client.time()
        server_start = int(seconds) + int(micros) / 1e6
        sock = _open_socket(client)
        start = time.perf_counter()
        try:
            for first in range(0, len(names), chunk):
                part = names[first : first + chunk]
                sent = time.perf_counter()
                sock.sendall(b"".join([commands[name] for name in part]) + dbsize)
                data = _read_lines(sock, bytearray(), len(part) + 1)
                done = time.perf_counter()
                replies = np.frombuffer(data, dtype=np.uint8, count=4 * len(part)).reshape(-1, 4)
                hits[first : first + len(part)] = replies[:, 1] == ord("1")
                resident.append(int(data[4 * len(part) + 1 : -2]))
                times[first : first + len(part)] = server_start + np.linspace(sent, done, len(part)) - start
        finally:
            sock.close()
        return hits, np.asarray(resident), times, time.perf_counter() - start
