"""Ask what the connected backend can do, so a notebook can choose a real measurement or a labelled fallback.

fakeredis runs the data commands faithfully but has no INFO, no OBJECT, no CONFIG GET, no memory
manager (it never evicts) and no keyspace notifications. A real server has all of them, unless a
managed service disables CONFIG. Probes are read-only except for one temporary key, which is removed.
"""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass, fields

import redis

from helpers.core.backend import BackendInfo, backend_info
from helpers.core.keys import KeySpace

PROBE_PREFIX = "rcp:probe:"  # then the learner namespace and a random name: never another learner's key


@dataclass(frozen=True)
class Capabilities:
    """What one backend supports; each flag is probed, not assumed."""

    backend: BackendInfo
    info: bool  # INFO: memory, keyspace and stats counters (expired_keys, evicted_keys, hits, misses)
    config: bool  # CONFIG GET works (reading, and perhaps changing, server settings)
    eviction: bool  # a memory manager that evicts keys under maxmemory (a real server)
    object_introspection: bool  # OBJECT ENCODING / FREQ / IDLETIME
    memory_usage: bool  # MEMORY USAGE key: bytes a key and its value take
    keyspace_events: bool  # can publish keyspace notifications such as `expired` (needs CONFIG)
    expire_options: bool  # EXPIRE ... NX | XX | GT | LT (Redis 7.0+)
    getex_ms_precision: bool  # GETEX PX/PXAT keeps milliseconds (fakeredis 2.41 truncates to seconds)
    lua: bool  # EVAL of Lua scripts

    def missing(self) -> list[str]:
        """Names of the capabilities this backend lacks."""
        return [f.name for f in fields(self) if f.name != "backend" and not getattr(self, f.name)]

    def summary(self) -> str:
        """One line: the backend and what it lacks."""
        lacking = self.missing()
        return f"{self.backend.label}: " + (f"lacks {', '.join(lacking)}" if lacking else "all capabilities")


_cache: weakref.WeakKeyDictionary[redis.Redis, Capabilities] = weakref.WeakKeyDictionary()


def capabilities(client: redis.Redis) -> Capabilities:
    """Probe (once per client) what the backend behind ``client`` can do."""
    if client in _cache:
        return _cache[client]
    backend = backend_info(client)
    key = KeySpace("probe").key(uuid.uuid4().hex)
    try:
        client.set(key, "probe", ex=60)
        has_config = _works(lambda: client.config_get("maxmemory-policy"))
        found = Capabilities(
            backend=backend,
            info=_works(lambda: client.info("memory")),
            config=has_config,
            eviction=backend.is_real and has_config,
            object_introspection=_works(lambda: client.object("encoding", key)),
            memory_usage=_works(lambda: client.memory_usage(key)),
            keyspace_events=backend.is_real and has_config,
            expire_options=_expire_options_work(client, key),
            getex_ms_precision=_getex_keeps_milliseconds(client, key),
            lua=_works(lambda: client.eval("return 1", 0)),
        )
    finally:
        client.delete(key)
    _cache[client] = found
    return found


def _works(call) -> bool:
    try:
        call()
    except (redis.ResponseError, NotImplementedError):
        return False
    return True


def _expire_options_work(client: redis.Redis, key: str) -> bool:
    """EXPIRE ... GT with Redis 7 semantics: it extends a TTL, and never applies to a key without one."""
    try:
        extended = client.expire(key, 120, gt=True)
        client.persist(key)
        refused = not client.expire(key, 60, gt=True)  # no TTL counts as infinite (fakeredis < 2.36.2 got this wrong)
        client.expire(key, 60)
    except redis.ResponseError:
        return False  # no EXPIRE options at all (Redis < 7.0)
    return bool(extended) and refused


def _getex_keeps_milliseconds(client: redis.Redis, key: str) -> bool:
    """Set an expiry 100.5 s ahead with GETEX PXAT and read it back: is the half second kept?"""
    seconds, _micros = client.time()
    target_ms = (int(seconds) + 100) * 1000 + 500
    try:
        client.getex(key, pxat=target_ms)
    except redis.ResponseError:
        return False  # no GETEX at all (Redis < 6.2)
    try:
        return int(client.pexpiretime(key)) == target_ms
    except redis.ResponseError:  # no PEXPIRETIME (Redis < 7.0): compare the remaining time instead
        now_s, now_us = client.time()
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        return abs(int(client.pttl(key)) - (target_ms - now_ms)) < 250
