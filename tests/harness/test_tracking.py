"""The tracking plumbing on a real server: the listener, the RESP3 push bytes, and redis-py's cache gate."""

from __future__ import annotations

import time

import pytest
import redis

from helpers.core.backend import connect, version_tuple
from helpers.core.errors import RedisServerNotFound
from helpers.core.keys import KeySpace
from helpers.harness import tracking
from helpers.harness.tracking import (
    InvalidationListener,
    client_side_cache,
    open_tracking_server,
    raw_push,
    start_tracking_server,
    tracked_connection,
)

KEYS = KeySpace("06-test-tracking")


@pytest.fixture
def listener(sandbox):
    found = InvalidationListener(sandbox.url)
    yield found
    found.close()


@pytest.fixture
def writer(sandbox):
    client = sandbox.client()
    yield client
    KEYS.cleanup(client)
    client.close()


def no_binary(monkeypatch) -> None:
    def missing() -> str:
        raise RedisServerNotFound("none here")

    monkeypatch.setattr(tracking, "find_redis_server", missing)


def test_no_binary_means_no_private_server(monkeypatch):
    no_binary(monkeypatch)
    assert start_tracking_server() is None
    assert open_tracking_server(connect("", announce=False)) is None  # and fakeredis has no tracking


def test_a_binary_gives_a_private_server(redis_server_binary, fake_client):
    server = open_tracking_server(fake_client)
    try:
        assert server.private and server.sandbox.is_running and "private" in server.description()
        assert server.label.split()[0] in {"Redis", "Valkey"} and server.version == server.sandbox.version
        assert server.client().ping()
    finally:
        server.stop()
    assert server.sandbox is None


def test_without_a_binary_the_redis_url_server_is_used_and_left_alone(monkeypatch, sandbox):
    no_binary(monkeypatch)
    monkeypatch.setenv("REDIS_URL", sandbox.url)
    r = connect()
    server = open_tracking_server(r)
    assert not server.private and server.url == sandbox.url and "never changed" in server.description()
    server.stop()
    assert sandbox.is_running and server.is_redis == server.label.startswith("Redis")
    r.close()


def test_a_tracked_read_is_invalidated_once_through_the_listener(listener, writer, sandbox):
    data = tracked_connection(sandbox.url)
    data.client_tracking_on(clientid=listener.client_id)
    key = KEYS.key("one-shot")
    writer.set(key, "v1")
    assert data.get(key) == "v1"
    writer.set(key, "v2")
    assert listener.poll(timeout=1.0) == [[key]]
    writer.set(key, "v3")  # not read again: nothing more
    assert listener.poll(timeout=0.2) == []
    data.close()


def test_the_thread_hands_invalidations_to_the_handler_and_reports_a_lost_connection(listener, writer, sandbox):
    data = tracked_connection(sandbox.url)
    data.client_tracking_on(clientid=listener.client_id)
    got, lost = [], []
    listener.start(got.append, on_lost=lambda: lost.append(True))
    with pytest.raises(RuntimeError):
        listener.start(got.append)
    key = KEYS.key("threaded")
    data.get(key)
    writer.set(key, "v1")
    deadline = time.monotonic() + 2.0
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)  # the listener thread delivers within a few milliseconds
    assert got == [[key]] and listener.delivered == 1
    writer.client_kill_filter(_id=listener.client_id)
    assert listener.join_if_lost() and lost == [True]
    assert "lost" in repr(listener)
    data.close()


def test_raw_push_is_a_resp3_invalidate_push(sandbox, writer):
    key = KEYS.key("raw")
    assert raw_push(sandbox.url, key) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(key), key.encode())


def test_client_side_cache_runs_only_on_redis_7_4_or_later(sandbox):
    client, why = client_side_cache(sandbox.url)
    if version_tuple(sandbox.version) >= (7, 4):
        assert client is not None and "on" in why
        client.close()
    else:
        assert client is None
        assert "7.4" in why or "redis-py" in why


def test_a_tracked_connection_is_one_connection(sandbox):
    data = tracked_connection(sandbox.url)
    first = data.client_id()
    assert all(data.client_id() == first for _ in range(3))
    assert isinstance(data, redis.Redis)
    data.close()


def test_short_keys_hide_the_prefix_and_the_learner():
    keys = KeySpace("06")
    assert tracking.short_keys([[keys.key("user", 7), keys.key("a")], None]) == [["user:7", "a"], None]
