"""Connect a notebook to Redis: fakeredis in-process by default, a real server when REDIS_URL is set.

``connect()`` is the one call a notebook makes. It prints one line naming the backend and how to
switch, and fails fast (about 2 s at most) with a message that says what to do when the server
named by ``REDIS_URL`` cannot be used. ``backend_info`` says what a client is connected to, and
``version_tuple`` turns its version into something to compare.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from dataclasses import dataclass
from importlib.metadata import version as package_version
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.core.errors import RedisUnavailable

ENV_VAR = "REDIS_URL"
CONNECT_TIMEOUT_S = 1.5
COMMAND_TIMEOUT_S = 10.0

_FIX = (
    "Fix: start the workshop server with `docker compose up -d redis` (then REDIS_URL=redis://localhost:6379/0), "
    f"or unset {ENV_VAR} and restart the kernel to use the built-in fakeredis."
)


@dataclass(frozen=True)
class BackendInfo:
    """What a client is connected to."""

    kind: str  # "fakeredis" or "redis"
    version: str
    address: str | None = None  # host:port (or socket path) of a real server
    server_name: str = "Redis"  # "Redis" or "Valkey" for a real server
    source: str = ENV_VAR  # where the URL came from: REDIS_URL or connect(url)

    @property
    def is_real(self) -> bool:
        """True for a real server, False for the in-process fakeredis."""
        return self.kind == "redis"

    @property
    def label(self) -> str:
        """A short name for figure titles: 'fakeredis 2.41.0' or 'Redis 7.0.15'."""
        return f"{self.server_name} {self.version}" if self.is_real else f"fakeredis {self.version}"

    def banner(self) -> str:
        """The one line a notebook prints to say which backend it is on."""
        if self.is_real:
            return (
                f"Backend: real {self.label} at {self.address} (from {self.source}). "
                f"Unset {ENV_VAR} and restart the kernel to use the in-process fakeredis."
            )
        return (
            f"Backend: {self.label}, in-process (no server needed). For a real Redis, set "
            f"{ENV_VAR}=redis://localhost:6379/0 and restart the kernel."
        )


# Per-client facts, kept beside the client rather than on it.
_info: weakref.WeakKeyDictionary[redis.Redis, BackendInfo] = weakref.WeakKeyDictionary()
_fake_servers: weakref.WeakKeyDictionary[redis.Redis, fakeredis.FakeServer] = weakref.WeakKeyDictionary()


def version_tuple(version: str) -> tuple[int, ...]:
    """'7.0.15' -> (7, 0, 15); parts that are not numbers count as 0 ('9.1.x' -> (9, 1, 0))."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split(".")[:3])


def connect(url: str | None = None, *, announce: bool = True) -> redis.Redis:
    """Return a client: the server at ``url`` (default: $REDIS_URL) or, with neither, fakeredis."""
    source = ENV_VAR if url is None else "connect(url)"
    if url is None:
        url = os.environ.get(ENV_VAR, "")
    url = url.strip()
    client = _connect_real(url, source) if url else _connect_fake()
    if announce:
        print(backend_info(client).banner())
    return client


def backend_info(client: redis.Redis) -> BackendInfo:
    """Describe the backend behind a client made by ``connect`` or ``new_connection``."""
    try:
        return _info[client]
    except KeyError:
        info = _describe(client)
        _info[client] = info
        return info


def new_connection(client: redis.Redis) -> redis.Redis:
    """Another client on the same backend with its own connections (for a second thread or process role)."""
    if client in _fake_servers:
        server = _fake_servers[client]
        other = fakeredis.FakeRedis(server=server, decode_responses=_decodes(client))
        _fake_servers[other] = server
    else:
        pool = client.connection_pool
        other = redis.Redis(
            connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs)
        )
    _info[other] = backend_info(client)
    return other


def _decodes(client: redis.Redis) -> bool:
    return bool(client.connection_pool.connection_kwargs.get("decode_responses", False))


def _connect_fake() -> redis.Redis:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    _fake_servers[client] = server
    _info[client] = BackendInfo(kind="fakeredis", version=package_version("fakeredis"))
    return client


def _connect_real(url: str, source: str = ENV_VAR) -> redis.Redis:
    shown = _mask_password(url)
    named = f"{ENV_VAR}={shown}" if source == ENV_VAR else f"connect({shown!r})"
    try:
        # A probe with no retries, so that a dead address fails within CONNECT_TIMEOUT_S.
        probe = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=CONNECT_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        raise RedisUnavailable(
            f"{named} is not a usable Redis URL ({exc}). "
            f"Use the form redis://HOST:6379/0, or unset {ENV_VAR} to use the built-in fakeredis."
        ) from None
    address = _address(probe)
    try:
        probe.ping()
        info = dataclasses.replace(_describe(probe), source=source)
    except (redis.AuthenticationError, redis.ResponseError) as exc:
        is_auth = isinstance(exc, redis.AuthenticationError) or "NOAUTH" in str(exc) or "WRONGPASS" in str(exc)
        if not is_auth:
            raise
        if urlsplit(url).password is None:
            raise RedisUnavailable(
                f"{named}: the server at {address} needs a password. Put it in the URL: redis://:PASSWORD@HOST:PORT/0."
            ) from None
        raise RedisUnavailable(
            f"{named}: the server at {address} refused the password in the URL. "
            "Check it (redis://:PASSWORD@HOST:PORT/0)."
        ) from None
    except redis.TimeoutError:
        raise RedisUnavailable(f"{named}: no answer from {address} within {CONNECT_TIMEOUT_S:g} s. {_FIX}") from None
    except redis.ConnectionError as exc:
        reason = _connection_reason(str(exc))
        hint = ""
        if "not known" in reason or "resolve" in reason:
            host = urlsplit(url).hostname or ""
            hint = (
                f" The host name {host!r} only resolves inside docker compose;"
                " from your own machine use redis://localhost:6379/0."
            )
        raise RedisUnavailable(f"{named}: cannot connect to {address} ({reason}).{hint} {_FIX}") from None
    except redis.RedisError as exc:
        raise RedisUnavailable(
            f"{named}: something answered at {address}, but it is not a Redis server "
            f"({type(exc).__name__}: {exc}). Check the host and port. {_FIX}"
        ) from None
    finally:
        probe.close()
    client = redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=COMMAND_TIMEOUT_S
    )
    _info[client] = info
    return client


def _describe(client: redis.Redis) -> BackendInfo:
    if isinstance(client, fakeredis.FakeRedis):
        return BackendInfo(kind="fakeredis", version=package_version("fakeredis"))
    server = client.info("server")
    name = "Valkey" if "valkey_version" in server or server.get("server_name") == "valkey" else "Redis"
    version = str(server.get("valkey_version") or server.get("redis_version", "unknown"))
    return BackendInfo(kind="redis", version=version, address=_address(client), server_name=name)


def _address(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _connection_reason(message: str) -> str:
    # redis-py says "Error 111 connecting to host:port. Connection refused."; keep the last part.
    reason = message.rsplit(". ", 1)[-1] if ". " in message else message
    return reason.rstrip(".").strip().lower() or message


def _mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
