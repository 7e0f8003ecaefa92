"""Notebook 08's failure lab: a private redis-server the notebook may pause, slow down and watch.

Pausing (SIGSTOP), ``DEBUG SLEEP`` and ``CONFIG SET`` must never touch a server others share, so this lab
only ever runs on a private ``SandboxRedis``, never on the server ``REDIS_URL`` names. It starts the server
with the settings the notebook's experiments need, on every tested server:

- ``enable-debug-command local`` on Redis 7+ and Valkey (DEBUG is off by default since Redis 7.0, and the
  setting cannot be changed at run time); Redis 6.2 has DEBUG on and does not know the setting;
- ``lazyfree-lazy-user-del no`` (Redis's default; Valkey 8 turns it on, which makes DEL behave like UNLINK);
- ``maxmemory-policy allkeys-lfu`` (so ``OBJECT FREQ`` answers), no memory limit, so nothing is evicted;
- ``slowlog-log-slower-than`` 10 ms and ``latency-monitor-threshold`` 100 ms.

``pause()`` freezes the server process (the socket stays open, so clients hang until their timeout, as with
a server stuck in a long command or a network that drops packets) and always resumes it. ``stopped_url()``
is the address of a server that was started and stopped again: connecting is refused, as when Redis is down.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.core.backend import version_tuple
from helpers.core.sandbox import SandboxRedis, find_redis_server, server_identity
from helpers.labs.base import SANDBOX, Lab

SLOWLOG_THRESHOLD_US = 10_000
LATENCY_THRESHOLD_MS = 100


def lab_config(name: str, version: str) -> dict[str, str]:
    """The server settings the failure lab starts with, for a server ``name`` ('Redis' or 'Valkey') ``version``."""
    config = {
        "lazyfree-lazy-user-del": "no",
        "maxmemory-policy": "allkeys-lfu",
        "slowlog-log-slower-than": str(SLOWLOG_THRESHOLD_US),
        "latency-monitor-threshold": str(LATENCY_THRESHOLD_MS),
    }
    if name == "Valkey" or version_tuple(version) >= (7, 0):
        config["enable-debug-command"] = "local"
    return config


class FailureLab(Lab):
    """A private server to pause and slow down: ``lab.start()``, ``with lab.pause(): ...``, ``lab.close()``."""

    KINDS = (SANDBOX,)
    START_HINT = "lab.start()"

    def __init__(self) -> None:
        super().__init__()
        self.server: SandboxRedis | None = None

    def _open(self) -> None:
        binary = find_redis_server()
        name, version = server_identity(binary)
        self.server = SandboxRedis(lab_config(name, version), binary=binary).start()
        self.client = self.server.client()
        self.kind = SANDBOX
        self.label = self.server.label

    def _shut(self) -> None:
        self.client.close()
        if self.server is not None:
            self._resume()
            self.server.stop()
            self.server = None

    def describe(self) -> str:
        """One sentence: which server, and why a private one."""
        return (
            f"Failure lab: a private {self.label} on a free local port, which this notebook may pause and slow "
            "down (never the server REDIS_URL names); stopped at Cleanup."
        )

    @property
    def url(self) -> str:
        """The private server's URL (with its secret)."""
        self._require()
        assert self.server is not None
        return self.server.url

    def fast_failing_client(self, timeout_s: float, retries: int = 0, **kwargs: object) -> redis.Redis:
        """A client of the lab's server with connect and socket timeouts of ``timeout_s`` and ``retries`` retries."""
        kwargs.setdefault("retry", Retry(NoBackoff(), retries))
        return redis.Redis.from_url(
            self.url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True, **kwargs
        )

    @contextmanager
    def pause(self) -> Iterator[None]:
        """Freeze the server process for the block (SIGSTOP), and always let it run again (SIGCONT)."""
        self._require()
        assert self.server is not None and self.server.pid is not None
        os.kill(self.server.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            self._resume()

    def _resume(self) -> None:
        if self.server is not None and self.server.pid is not None and self.server.is_running:
            os.kill(self.server.pid, signal.SIGCONT)

    def stopped_url(self) -> str:
        """The URL of a server that was started and stopped again: connecting to it is refused."""
        self._require()
        gone = SandboxRedis(binary=self.server.binary if self.server else None).start()
        url = gone.url
        gone.stop()
        return url
