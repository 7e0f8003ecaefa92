"""Where eviction runs, and the guard rails: opt-in, foreign keys, settings restored even after a failing cell."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import nbformat
import pytest
import redis
from execute_notebooks import run
from nbclient import NotebookClient
from notebook_series import KERNEL_NAME

from helpers.core.errors import InvalidArgument
from helpers.core.keys import KeySpace
from helpers.core.sandbox import SandboxRedis, running_sandboxes
from helpers.labs.eviction_lab import OPT_IN_ENV, EvictionLab, ServerNotOurs

KEYS = KeySpace("04")
ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = {
    "maxmemory": "0",
    "maxmemory-policy": "noeviction",
    "maxmemory-samples": "5",
    "lfu-log-factor": "10",
    "lfu-decay-time": "1",
    "maxmemory-eviction-tenacity": "10",
}


@pytest.fixture
def own_server(redis_server_binary):
    """A fresh server this test owns, named by REDIS_URL."""
    with SandboxRedis(binary=redis_server_binary) as server:
        yield server


def settings_of(server) -> dict[str, str]:
    client = server.client()
    try:
        return {name: client.config_get(name)[name] for name in DEFAULTS}
    finally:
        client.close()


def test_simulator_when_there_is_no_binary(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    lab = EvictionLab(KEYS)
    client = lab.start()
    assert lab.kind == "simulator" and "simulated" in lab.label and "No redis-server found" in capsys.readouterr().out
    with lab.settings(maxmemory_policy="allkeys-lfu", lfu_log_factor=100):
        assert lab.current()["lfu-log-factor"] == "100"
    assert lab.current() == DEFAULTS
    client.set(KEYS.key("x"), "1")
    lab.close()
    assert lab.client is None


def test_private_sandbox_by_default_even_with_redis_url(monkeypatch, own_server, redis_server_binary):
    monkeypatch.setenv("REDIS_URL", own_server.url)  # not opted in: left alone
    monkeypatch.delenv(OPT_IN_ENV, raising=False)
    monkeypatch.setenv("REDIS_SERVER_BIN", redis_server_binary)
    lab = EvictionLab(KEYS)
    lab.start(announce=False)
    lab_pid = lab._sandbox.pid
    assert lab.kind == "sandbox" and lab_pid != own_server.pid and lab_pid in running_sandboxes(parent=os.getpid())
    with lab.settings(maxmemory_policy="allkeys-lru"):
        assert settings_of(own_server) == DEFAULTS  # the REDIS_URL server was never touched
    lab.close()
    assert lab_pid not in running_sandboxes(parent=os.getpid()) and own_server.is_running


def test_opted_in_server_is_restored_when_the_block_fails(monkeypatch, own_server):
    monkeypatch.setenv("REDIS_URL", own_server.url)
    monkeypatch.setenv(OPT_IN_ENV, "1")
    lab = EvictionLab(KEYS)
    lab.start(announce=False)
    assert lab.kind == "REDIS_URL"
    with (
        pytest.raises(RuntimeError),
        lab.settings(maxmemory_policy="allkeys-lfu", maxmemory=5_000_000, lfu_log_factor=3),
    ):
        assert settings_of(own_server)["maxmemory-policy"] == "allkeys-lfu"
        raise RuntimeError("a cell failed half-way")
    assert settings_of(own_server) == DEFAULTS
    lab.close()


def test_opted_in_server_with_foreign_keys_is_left_alone(monkeypatch, own_server):
    other = own_server.client()
    other.set("someone-elses-key", "1")
    monkeypatch.setenv("REDIS_URL", own_server.url)
    monkeypatch.setenv(OPT_IN_ENV, "1")
    lab = EvictionLab(KEYS)
    lab.start(announce=False)
    assert lab.kind != "REDIS_URL" and "1 keys this notebook did not create" in lab.describe()
    lab.close()
    other.delete("someone-elses-key")
    lab = EvictionLab(KEYS)
    lab.start(announce=False)
    assert lab.kind == "REDIS_URL"
    other.set("arrived-later", "1")
    with pytest.raises(ServerNotOurs), lab.settings(maxmemory_policy="allkeys-lru"):
        pass
    assert settings_of(own_server) == DEFAULTS
    other.delete("arrived-later")
    lab.close()
    other.close()


def test_backstop_restores_settings_changed_outside_a_with_block(monkeypatch, own_server):
    monkeypatch.setenv("REDIS_URL", own_server.url)
    monkeypatch.setenv(OPT_IN_ENV, "1")
    lab = EvictionLab(KEYS)
    lab.start(announce=False).config_set("maxmemory-policy", "volatile-ttl")  # no context manager
    del lab
    gc.collect()
    assert settings_of(own_server) == DEFAULTS


def test_settings_are_restored_after_a_failing_cell_in_a_kernel(monkeypatch, own_server):
    """In a kernel: a cell fails inside `with lab.settings(...)`, the next changes a setting bare, the kernel stops."""
    monkeypatch.setenv("REDIS_URL", own_server.url)
    monkeypatch.setenv(OPT_IN_ENV, "1")
    cells = [
        "from helpers.labs.eviction_lab import EvictionLab\nfrom helpers.core.keys import KeySpace\n"
        "lab = EvictionLab(KeySpace('04'))\nevict = lab.start()",
        "with lab.settings(maxmemory_policy='allkeys-lfu', maxmemory=9_000_000, maxmemory_samples=10):\n"
        "    evict.set('rcp:04:x', 'y')\n    1 / 0",
        "assert lab.current()['maxmemory-policy'] == 'noeviction'\nevict.config_set('lfu-log-factor', 42)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(nb, timeout=60, kernel_name=KERNEL_NAME, allow_errors=True).execute()
    assert nb.cells[1].outputs[-1]["ename"] == "ZeroDivisionError"
    assert not any(o.get("output_type") == "error" for o in nb.cells[2].outputs)
    assert settings_of(own_server) == DEFAULTS  # the bare change was undone when the kernel exited


def test_own_connection_frees_a_refused_writes_query_buffer(monkeypatch, redis_server_binary):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_SERVER_BIN", redis_server_binary)
    with EvictionLab(KEYS) as lab:
        client = lab.start(announce=False)
        baseline = lab.used_memory()
        with lab.settings(maxmemory_policy="allkeys-lru", maxmemory=baseline + 64 * 1024):
            with lab.own_connection() as own, pytest.raises(redis.exceptions.OutOfMemoryError):
                own.set(KEYS.key("too-big"), "x" * 256 * 1024)
            client.set(KEYS.key("small"), "x" * 1000)  # the refused write's buffer went with its connection
        assert lab.used_memory() < baseline + 64 * 1024


def test_eviction_tenacity_is_set_and_restored_on_a_real_server(monkeypatch, redis_server_binary):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_SERVER_BIN", redis_server_binary)
    with EvictionLab(KEYS) as lab:
        client = lab.start(announce=False)
        assert lab.current()["maxmemory-eviction-tenacity"] == "10"  # Redis's default
        with lab.settings(maxmemory_eviction_tenacity=100):
            assert client.config_get("maxmemory-eviction-tenacity") == {"maxmemory-eviction-tenacity": "100"}
        assert lab.current() == lab.original


def test_a_server_without_eviction_tenacity_is_not_asked_to_set_it(monkeypatch):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    with EvictionLab(KEYS) as lab:
        lab.start(announce=False)
        reported = lab.current()
        del reported["maxmemory-eviction-tenacity"]  # what Redis 6.0 reports: it has no such setting
        monkeypatch.setattr(lab, "current", lambda: dict(reported))
        with lab.settings(maxmemory_policy="allkeys-lru", maxmemory_eviction_tenacity=100) as applied:
            assert applied == {"maxmemory-policy": "allkeys-lru"}


def test_own_connection_is_the_simulator_itself(monkeypatch):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    with EvictionLab(KEYS) as lab:
        client = lab.start(announce=False)
        with lab.own_connection() as own:
            assert own is client


def test_settings_are_validated(monkeypatch):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    lab = EvictionLab(KEYS)
    with pytest.raises(Exception, match="lab.start"):
        lab.used_memory()
    lab.start(announce=False)
    for changes, message in [
        ({"maxmemory_policy": "lru"}, "unknown maxmemory-policy"),
        ({"maxmemory": -1}, "maxmemory must be a whole number"),
        ({"maxmemory_samples": 0}, "1 to 64"),
        ({"hz": 100}, "unknown eviction setting 'hz'"),
        ({"maxmemory_eviction_tenacity": 101}, "from 0 to 100"),
    ]:
        with pytest.raises(InvalidArgument, match=message), lab.settings(**changes):
            pass
    lab.close()


def test_notebook_runs_end_to_end_on_the_simulator(monkeypatch):
    """No redis-server at all: every cell runs, and every compared output reads as in the stored notebook."""
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent")
    monkeypatch.delenv("REDIS_URL", raising=False)
    path = ROOT / "notebooks" / "04_eviction.ipynb"
    stored = nbformat.read(path, as_version=4)
    fresh = run(nbformat.read(path, as_version=4), path.parent)
    start_cell = next(c for c in fresh.cells if c.cell_type == "code" and "lab.start()" in c.source)
    assert "simulator" in "".join(o.get("text", "") for o in start_cell.outputs)
    for old, new in zip(stored.cells, fresh.cells, strict=True):
        if old.cell_type != "code" or "nbval-ignore-output" in old.metadata.get("tags", []):
            continue
        assert _shown(old) == _shown(new), old.source[:80]


def _shown(cell) -> tuple[str, list[str]]:
    """What nbval compares: the streams merged, and each result's text/plain."""
    streams = "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")
    return streams, [output.get("data", {}).get("text/plain", "") for output in cell.outputs if "data" in output]
