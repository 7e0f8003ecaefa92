"""Plumbing for server-assisted invalidation (CLIENT TRACKING): the server, the listener, the raw push.

fakeredis has no CLIENT TRACKING, so notebook 06 runs it on a private ``SandboxRedis``
(``start_tracking_server``; None when no redis-server binary is found, and the notebook says so).
The caching code and the CLIENT TRACKING commands stay in the notebook; this module hides the
connections:

- ``tracked_connection(url)``: one RESP2 connection (tracking is a property of a connection, and a
  pool would spread reads over several);
- ``InvalidationListener(url)``: a RESP2 connection subscribed to ``__redis__:invalidate``, the target
  of ``CLIENT TRACKING ON REDIRECT <id>``; ``poll()`` returns what arrived, ``start(handler)`` runs a
  thread that hands each invalidation to ``handler`` and calls ``on_lost`` if the connection drops;
- ``raw_push(url, key)``: the bytes of one RESP3 invalidation push, read from a plain socket;
- ``client_side_cache(url)``: redis-py's own client-side cache, or the reason it will not run here.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.core.backend import ENV_VAR, backend_info, connect
from helpers.core.errors import RedisServerNotFound
from helpers.core.keys import short_key
from helpers.core.sandbox import SandboxRedis, find_redis_server

TRACKING_CHANNEL = "__redis__:invalidate"
POLL_S = 0.02  # how often the listener thread looks for messages (it wakes at once when one arrives)

Invalidation = list[str] | None  # the keys that changed; None: every key (FLUSHDB / FLUSHALL)


def start_tracking_server() -> SandboxRedis | None:
    """A private redis-server for CLIENT TRACKING (the caller stops it), or None when no binary is found."""
    try:
        return SandboxRedis(binary=find_redis_server()).start()
    except RedisServerNotFound:
        return None


@dataclass
class TrackingServer:
    """Where the tracking sections run: a private sandbox, or the server ``REDIS_URL`` names (left as it is)."""

    url: str
    label: str  # e.g. 'Redis 7.0.15' or 'Valkey 9.1.2'
    private: bool  # True: a sandbox this process started, whose settings may be changed (and are put back)
    sandbox: SandboxRedis | None = None

    @property
    def version(self) -> str:
        """The server's version, e.g. '7.0.15'."""
        return self.label.split()[-1]

    @property
    def is_redis(self) -> bool:
        """True for Redis, False for Valkey (redis-py's client-side cache never runs on Valkey)."""
        return self.label.startswith("Redis")

    def client(self) -> redis.Redis:
        """A new plain client (RESP2, strings) on the server."""
        return _client(self.url)

    def description(self) -> str:
        """One sentence: which server, and why."""
        if self.private:
            return f"a private {self.label} for sections 3 to 5 (stopped at Cleanup)"
        return (
            f"no redis-server binary here, so sections 3 to 5 use {self.label}, the server REDIS_URL names; "
            "its settings are never changed (3.2's table cap is skipped)"
        )

    def stop(self) -> None:
        """Stop the private sandbox (the REDIS_URL server is left running)."""
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def open_tracking_server(r: redis.Redis) -> TrackingServer | None:
    """A private sandbox if a binary is found, else ``r``'s own server when it is a real one, else None."""
    sandbox = start_tracking_server()
    if sandbox is not None:
        probe = connect(sandbox.url, announce=False)
        label = backend_info(probe).label
        probe.close()
        return TrackingServer(sandbox.url, label, private=True, sandbox=sandbox)
    info = backend_info(r)
    url = os.environ.get(ENV_VAR, "").strip()
    if info.is_real and info.source == ENV_VAR and url:
        return TrackingServer(url, info.label, private=False)
    return None


def short_keys(invalidations: list[Invalidation]) -> list[list[str] | None]:
    """Invalidations with each key shortened for printing ('rcp:06:ada:user:7' -> 'user:7'; None stays None)."""
    return [None if payload is None else [short_key(key) for key in payload] for payload in invalidations]


def _client(url: str, **kwargs: object) -> redis.Redis:
    """A RESP2 client that fails at once instead of retrying (a dropped connection must be noticed)."""
    return redis.Redis.from_url(url, protocol=2, decode_responses=True, retry=Retry(NoBackoff(), 0), **kwargs)


def _own_connection(pool: redis.ConnectionPool) -> redis.connection.Connection:
    try:
        return pool.get_connection()  # redis-py >= 5.3
    except TypeError:
        return pool.get_connection("_")  # redis-py < 5.3 wants a command name


def tracked_connection(url: str) -> redis.Redis:
    """A client with exactly one RESP2 connection, so that CLIENT TRACKING covers every read it makes."""
    return _client(url, single_connection_client=True)


class InvalidationListener:
    """A connection subscribed to ``__redis__:invalidate``: where ``CLIENT TRACKING ... REDIRECT`` sends news."""

    def __init__(self, url: str) -> None:
        self._pubsub = _client(url).pubsub()
        self._pubsub.connection = _own_connection(self._pubsub.connection_pool)
        self._pubsub.connection.send_command("CLIENT", "ID")  # before SUBSCRIBE: a subscribed RESP2 connection
        self.client_id = int(self._pubsub.connection.read_response())  # accepts only (UN)SUBSCRIBE and PING
        self._pubsub.subscribe(TRACKING_CHANNEL)
        confirmation = self._pubsub.get_message(timeout=2.0)
        if not confirmation or confirmation["type"] != "subscribe":
            raise RuntimeError(f"SUBSCRIBE {TRACKING_CHANNEL} was not confirmed (got {confirmation!r}).")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.lost = False  # the connection dropped: invalidations may have been missed
        self.delivered = 0  # invalidation messages handed to a handler by the thread

    def poll(self, timeout: float = 0.0) -> list[Invalidation]:
        """Every invalidation waiting on the connection, oldest first; waits up to ``timeout`` s for the first."""
        found: list[Invalidation] = []
        message = self._pubsub.get_message(timeout=timeout)
        while message is not None:
            if message["type"] == "message":
                found.append(message["data"])
            message = self._pubsub.get_message(timeout=0.0)
        return found

    def start(self, handler: Callable[[Invalidation], object], on_lost: Callable[[], object] | None = None) -> None:
        """Hand every invalidation to ``handler`` on a thread; call ``on_lost()`` if the connection drops."""
        if self._thread is not None:
            raise RuntimeError("the listener thread is already running")

        def listen() -> None:
            while not self._stop.is_set():
                try:
                    payloads = self.poll(timeout=POLL_S)
                except (redis.ConnectionError, OSError, ValueError):
                    if self._stop.is_set():
                        return
                    self.lost = True
                    if on_lost is not None:
                        on_lost()
                    return
                for payload in payloads:
                    handler(payload)
                    self.delivered += 1

        self._thread = threading.Thread(target=listen, name="invalidation-listener", daemon=True)
        self._thread.start()

    def join_if_lost(self, timeout: float = 2.0) -> bool:
        """Wait until the thread has noticed a dropped connection (True) or ``timeout`` s passed (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.lost

    def close(self) -> None:
        """Stop the thread (if any) and close the connection."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        self._pubsub.close()

    def __repr__(self) -> str:
        state = "lost" if self.lost else ("listening on a thread" if self._thread else "polled")
        return f"InvalidationListener(client id {self.client_id}, {TRACKING_CHANNEL}, {state})"


def raw_push(url: str, key: str, value: str = "v2") -> bytes:
    """The bytes a RESP3 connection with CLIENT TRACKING ON receives when another client writes ``key``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    hello = ["HELLO", "3"]
    if parts.password:
        hello += ["AUTH", unquote(parts.username or "default"), unquote(parts.password)]
    writer = _client(url)
    with socket.create_connection((host, port), timeout=2.0) as sock:
        reader = sock.makefile("rb")
        for command in (hello, ["CLIENT", "TRACKING", "ON"], ["GET", key]):
            sock.sendall(_encode(command))
            _read_one(reader)  # +OK, the HELLO map, the GET reply: not what we are here for
        writer.set(key, value)  # another client changes the key this connection read
        push = _read_one(reader)
    writer.close()
    return push


def _encode(args: list[str]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_one(reader) -> bytes:
    """One complete RESP2/RESP3 value, as the raw bytes that arrived."""
    line = reader.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"$", b"=", b"!") and rest != b"-1":
        return line + reader.read(int(rest) + 2)
    if kind in (b"*", b">", b"~", b"%", b"|") and rest != b"-1":
        count = int(rest) * (2 if kind in (b"%", b"|") else 1)
        return line + b"".join(_read_one(reader) for _ in range(count))
    return line


def client_side_cache(url: str) -> tuple[redis.Redis | None, str]:
    """redis-py's built-in client-side cache on ``url``, or (None, why it cannot run here)."""
    try:
        from redis.cache import CacheConfig
    except ImportError:
        return None, f"redis-py {redis.__version__} has no client-side cache (it arrived in redis-py 5.1)."
    client = redis.Redis.from_url(url, protocol=3, cache_config=CacheConfig(), decode_responses=True)
    try:
        client.ping()  # the first command checks the server (HELLO: name 'redis', version >= 7.4)
    except redis.ConnectionError as exc:
        client.close()
        return None, f"{type(exc).__name__}: {exc}"
    return client, "redis-py's client-side cache is on"
