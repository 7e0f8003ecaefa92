"""connect(): fakeredis by default, a real server from REDIS_URL, and fast, actionable failures."""

from __future__ import annotations

import socket
import threading
import time

import fakeredis
import pytest
import redis

from helpers.core.backend import CONNECT_TIMEOUT_S, backend_info, connect, new_connection, version_tuple
from helpers.core.errors import RedisUnavailable


def test_default_is_fakeredis_and_says_so(monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    client = connect()
    assert isinstance(client, fakeredis.FakeRedis)
    banner = capsys.readouterr().out
    assert banner.count("\n") == 1, "one banner line"
    assert banner.startswith("Backend: fakeredis ") and "REDIS_URL=redis://localhost:6379/0" in banner
    assert backend_info(client).is_real is False


def test_fake_clients_are_independent_but_new_connection_shares_data(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    first, second = connect(announce=False), connect(announce=False)
    first.set("rcp:test:k", "v")
    assert second.get("rcp:test:k") is None  # two notebooks never share an in-process server
    other = new_connection(first)
    assert other is not first and other.get("rcp:test:k") == "v"
    assert backend_info(other) == backend_info(first)


def test_blank_redis_url_means_fakeredis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "   ")
    assert not backend_info(connect(announce=False)).is_real


def test_real_server_from_redis_url(monkeypatch, sandbox, capsys):
    monkeypatch.setenv("REDIS_URL", sandbox.url)
    client = connect()
    info = backend_info(client)
    assert info.is_real and info.version == sandbox.version and info.address == f"127.0.0.1:{sandbox.port}"
    banner = capsys.readouterr().out
    assert banner.startswith(f"Backend: real Redis {sandbox.version} at 127.0.0.1:{sandbox.port} (from REDIS_URL)")
    assert client.ping() and client.get("rcp:test:absent") is None  # responses decoded, commands work
    other = new_connection(client)
    client.set("rcp:test:shared", "1")
    try:
        assert other.get("rcp:test:shared") == "1"
        assert other.connection_pool is not client.connection_pool
    finally:
        client.delete("rcp:test:shared")


def _fails_fast(url: str) -> str:
    start = time.monotonic()
    with pytest.raises(RedisUnavailable) as caught:
        connect(url, announce=False)
    assert time.monotonic() - start < 2.5, "must fail within about 2 s"
    message = str(caught.value)
    assert "docker compose up -d redis" in message and "fakeredis" in message, "says how to fix it"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, "no chained socket traceback"
    return message


def test_refused_connection_names_address_and_fix(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    message = _fails_fast("redis://127.0.0.1:1/0")
    assert "127.0.0.1:1" in message and "refused" in message


def test_env_var_is_named_in_the_message(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(RedisUnavailable, match=r"^REDIS_URL=redis://127\.0\.0\.1:1/0: cannot connect"):
        connect(announce=False)


def test_silent_server_times_out_within_two_seconds():
    # A socket that accepts connections but never answers: the worst case, a hung or firewalled server.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        message = _fails_fast(f"redis://127.0.0.1:{port}/0")
    assert f"no answer from 127.0.0.1:{port} within {CONNECT_TIMEOUT_S:g} s" in message


def test_not_a_redis_server():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer_like_http() -> None:
            conn, _ = listener.accept()
            conn.recv(100)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

        threading.Thread(target=answer_like_http, daemon=True).start()
        message = _fails_fast(f"redis://127.0.0.1:{port}/0")
    assert "not a Redis server" in message


def test_compose_service_name_outside_compose_gets_a_hint():
    message = _fails_fast("redis://no-such-host.invalid:6379/0")
    assert "only resolves inside docker compose" in message


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://localhost:notaport/0"])
def test_malformed_url(url):
    with pytest.raises(RedisUnavailable, match="is not a usable Redis URL") as caught:
        connect(url, announce=False)
    assert "redis://HOST:6379/0" in str(caught.value)


def test_password_required_and_never_echoed(redis_server_binary):
    from helpers.core.sandbox import SandboxRedis

    with SandboxRedis({"requirepass": "s3cret"}, binary=redis_server_binary) as server:
        assert server.url == f"redis://:s3cret@127.0.0.1:{server.port}/0"
        with pytest.raises(RedisUnavailable, match="needs a password"):
            connect(f"redis://127.0.0.1:{server.port}/0", announce=False)
        with pytest.raises(RedisUnavailable, match="refused the password") as caught:
            connect(f"redis://:wrong@127.0.0.1:{server.port}/0", announce=False)
        assert "wrong" not in str(caught.value) and ":***@" in str(caught.value)
        right = connect(server.url, announce=False)
        assert right.ping()
        right.close()


def test_friendly_error_renders_without_traceback():
    error = RedisUnavailable("REDIS_URL=x: cannot connect.")
    assert error._render_traceback_() == ["RedisUnavailable: REDIS_URL=x: cannot connect."]
    assert isinstance(error, ConnectionError) and not isinstance(error, redis.ConnectionError)


def test_version_tuple():
    assert version_tuple("7.0.15") == (7, 0, 15) and version_tuple("9.1.x") == (9, 1, 0)
    assert version_tuple("8.2.3") >= (7, 4) > version_tuple("7.2.4")
    assert version_tuple("unknown") == (0,)
