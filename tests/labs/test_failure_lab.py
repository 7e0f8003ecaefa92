"""The failure lab: a private server started with DEBUG on, paused and always resumed, a refused address."""

from __future__ import annotations

import time

import pytest
import redis

from helpers.core.errors import FriendlyError
from helpers.labs.failure_lab import FailureLab, lab_config


def test_debug_is_enabled_only_where_the_setting_exists():
    assert "enable-debug-command" not in lab_config("Redis", "6.2.14")  # unknown to 6.2: it would not start
    assert lab_config("Redis", "7.0.15")["enable-debug-command"] == "local"
    assert lab_config("Valkey", "8.1.8")["enable-debug-command"] == "local"
    assert lab_config("Redis", "8.2.3")["lazyfree-lazy-user-del"] == "no"


def test_a_lab_that_is_not_running_says_how_to_start_it():
    with pytest.raises(FriendlyError, match=r"lab\.start\(\)"):
        FailureLab().url  # noqa: B018


@pytest.fixture
def lab(redis_server_binary):
    with FailureLab() as running:
        yield running


def test_the_lab_runs_debug_and_its_settings(lab):
    client = lab.client
    assert client.execute_command("DEBUG", "SLEEP", "0") in (True, "OK", b"OK")
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lfu"
    assert client.config_get("lazyfree-lazy-user-del")["lazyfree-lazy-user-del"] == "no"
    assert "private" in lab.describe() and lab.label in lab.describe()


def test_a_paused_server_times_out_and_answers_again_after(lab):
    client = lab.fast_failing_client(0.05)
    with lab.pause():
        started = time.perf_counter()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("k")
        assert time.perf_counter() - started >= 0.045
    assert client.ping()


def test_the_pause_ends_even_when_the_block_raises(lab):
    with pytest.raises(KeyError), lab.pause():
        raise KeyError("boom")
    assert lab.fast_failing_client(1.0).ping()


def test_a_stopped_server_refuses_at_once(lab):
    gone = redis.Redis.from_url(
        lab.stopped_url(), socket_connect_timeout=1, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        gone.ping()


def test_close_stops_the_server_and_can_be_called_twice(redis_server_binary):
    lab = FailureLab()
    lab.start(announce=False)
    server = lab.server
    lab.close()
    lab.close()
    assert server is not None and not server.is_running and lab.client is None
