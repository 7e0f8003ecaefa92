"""Where expiry is measured (the notebook's server, a private sandbox, or fakeredis), and what each shows."""

from __future__ import annotations

import os
import time

import pytest

from helpers.core.backend import connect
from helpers.core.errors import FriendlyError, InvalidArgument, RedisServerNotFound
from helpers.core.keys import KeySpace
from helpers.core.sandbox import SandboxRedis, running_sandboxes
from helpers.labs import expiry_lab
from helpers.labs.expiry_lab import CONNECTED, FAKEREDIS, SANDBOX, ExpiryLab

KEYS = KeySpace("01")


def load(client, names, ttl_ms):
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.set(name, "x", px=ttl_ms)
        pipe.execute()


def running_lab(lab: ExpiryLab) -> ExpiryLab:
    lab.start(announce=False)
    return lab


class TestProtocol:
    def test_creating_touches_nothing_start_chooses_and_announces(self, fake_client, capsys):
        lab = ExpiryLab(fake_client, use_sandbox=False)
        assert (lab.client, lab.kind, lab.running) == (None, None, False) and "not started" in lab.describe()
        with pytest.raises(FriendlyError, match=r"ExpiryLab is not running: run `lab.start\(\)` first"):
            lab.sample(time.perf_counter())
        assert lab.start() is fake_client and lab.kind == FAKEREDIS
        assert capsys.readouterr().out.strip() == lab.describe()
        assert lab.start() is fake_client and capsys.readouterr().out == ""  # once started, start() is quiet

    def test_a_with_block_stops_the_sandbox_even_on_error(self, fake_client, redis_server_binary):
        before = set(running_sandboxes(parent=os.getpid()))
        with pytest.raises(RuntimeError), ExpiryLab(fake_client) as lab:
            assert lab.kind == SANDBOX and lab.running
            raise RuntimeError("the experiment failed")
        assert not lab.running and set(running_sandboxes(parent=os.getpid())) == before
        assert "closed" in repr(lab)


def _no_binary() -> str:
    raise RedisServerNotFound("none here")


class TestWhere:
    def test_a_real_server_gets_a_private_sandbox_too(self, real_client, redis_server_binary):
        """DBSIZE and INFO count every learner's keys on a shared server: the measurement runs on its own."""
        lab = running_lab(ExpiryLab(real_client))
        try:
            assert (lab.kind, lab.is_real) == (SANDBOX, True) and lab.client is not real_client
        finally:
            lab.close()
        assert real_client.ping()  # close() leaves the notebook's own server alone

    def test_a_real_server_is_used_as_it_is_without_a_binary(self, real_client, monkeypatch):
        monkeypatch.setattr(expiry_lab, "find_redis_server", _no_binary)
        lab = running_lab(ExpiryLab(real_client))
        assert (lab.kind, lab.is_real, lab.client) == (CONNECTED, True, real_client)
        assert "the server this notebook is connected to" in lab.describe()
        lab.close()
        assert real_client.ping()

    def test_fakeredis_gets_a_private_sandbox_that_close_stops(self, fake_client, redis_server_binary):
        before = set(running_sandboxes(parent=os.getpid()))
        lab = running_lab(ExpiryLab(fake_client))
        try:
            assert (lab.kind, lab.is_real) == (SANDBOX, True)
            assert lab.client.info("stats")["expired_keys"] >= 0  # a real server, with INFO
            assert "private redis-server" in lab.describe() and lab.label.startswith(("Redis", "Valkey"))
            started = set(running_sandboxes(parent=os.getpid())) - before
            assert len(started) == 1
        finally:
            lab.close()
        assert set(running_sandboxes(parent=os.getpid())) == before
        lab.close()  # twice is fine

    def test_without_a_binary_it_says_so_and_uses_fakeredis(self, fake_client, monkeypatch):
        monkeypatch.setattr(expiry_lab, "find_redis_server", _no_binary)
        lab = running_lab(ExpiryLab(fake_client))
        assert (lab.kind, lab.is_real, lab.client) == (FAKEREDIS, False, fake_client)
        assert "No redis-server was found" in lab.describe() and "fakeredis" in lab.describe()
        assert "fakeredis" in repr(lab)

    def test_use_sandbox_false_stays_on_fakeredis(self, fake_client):
        assert running_lab(ExpiryLab(fake_client, use_sandbox=False)).kind == FAKEREDIS


class TestWatching:
    def test_samples_are_spaced_and_count_keys(self, fake_client):
        lab = running_lab(ExpiryLab(fake_client, use_sandbox=False))
        fake_client.set(KEYS.key("lab", "a"), "x")
        start = time.perf_counter()
        samples = lab.watch(start, until_s=0.2, every_s=0.05)
        assert 1 <= len(samples) <= 5  # fewer when the machine is busy: a sample is never taken early
        assert all(b.at_s - a.at_s >= 0.049 for a, b in zip(samples, samples[1:], strict=False))
        assert samples[-1].dbsize == 1 and samples[-1].expired_keys is None
        assert abs(samples[-1].server_s - time.time()) < 1.0  # the server's clock (fakeredis: this process's)

    def test_real_samples_carry_info_and_the_server_clock(self, real_client):
        sample = running_lab(ExpiryLab(real_client)).sample(time.perf_counter())
        assert sample.expired_keys is not None and sample.dbsize >= 0
        assert abs(sample.server_s - time.time()) < 1.0  # a local sandbox shares this machine's clock

    def test_watch_stops_when_told(self, fake_client):
        lab = running_lab(ExpiryLab(fake_client, use_sandbox=False))
        fake_client.set(KEYS.key("lab", "b"), "x", px=100)
        samples = lab.watch(time.perf_counter(), until_s=2.0, every_s=0.02, stop_when=lambda s: s.dbsize == 0)
        assert samples[-1].dbsize == 0 and all(s.dbsize == 1 for s in samples[:-1])
        assert 0.09 <= samples[-1].at_s < 1.0  # it stopped soon after the key expired, long before 2 s

    @pytest.mark.parametrize(("every_s", "until_s", "message"), [(0, 1, "every_s must be > 0"), (2, 1, "shorter")])
    def test_bad_intervals(self, fake_client, every_s, until_s, message):
        with pytest.raises(InvalidArgument, match=message):
            running_lab(ExpiryLab(fake_client, use_sandbox=False)).watch(time.perf_counter(), until_s, every_s)

    def test_fakeredis_dbsize_never_counts_an_expired_key(self, fake_client):
        lab = running_lab(ExpiryLab(fake_client, use_sandbox=False))
        load(fake_client, [KEYS.key("lab", "short", i) for i in range(50)], 20)
        time.sleep(0.05)
        assert lab.sample(time.perf_counter()).dbsize == 0  # nothing was read, yet none is counted

    def test_real_server_keeps_a_few_expired_keys_until_they_are_read(self, redis_server_binary):
        """The notebook's claim: under 10 % expired, the active cycle leaves most of them in memory."""
        with SandboxRedis(binary=redis_server_binary) as server:
            lab = running_lab(ExpiryLab(connect(server.url, announce=False)))
            base = lab.sample(time.perf_counter())
            load(lab.client, [KEYS.key("long", i) for i in range(5_000)], 60_000)
            few = [KEYS.key("few", i) for i in range(200)]  # 4 % of the keys with a TTL
            load(lab.client, few, 50)
            time.sleep(0.4)
            lingering = lab.sample(time.perf_counter())
            assert lingering.dbsize - base.dbsize - 5_000 >= 100  # most are dead but still in memory
            assert lab.client.exists(*few) == 0  # to a reader, every one of them has expired
            after = lab.sample(time.perf_counter())
            assert after.dbsize - base.dbsize == 5_000  # reading them deleted them (lazy expiry)
            assert after.expired_keys - base.expired_keys == 200
            lab.close()

    def test_real_server_sweeps_many_expired_keys_without_reads(self, redis_server_binary):
        with SandboxRedis(binary=redis_server_binary) as server:
            lab = running_lab(ExpiryLab(connect(server.url, announce=False)))
            base = lab.sample(time.perf_counter())
            load(lab.client, [KEYS.key("long", i) for i in range(2_000)], 60_000)
            load(lab.client, [KEYS.key("many", i) for i in range(3_000)], 50)  # 60 % of the keys with a TTL
            time.sleep(0.8)
            swept = lab.sample(time.perf_counter())
            assert swept.dbsize - base.dbsize - 2_000 <= 1_500  # the active cycle removed most of them, unread
            assert swept.expired_keys - base.expired_keys >= 1_500


class TestBatches:
    def test_load_reports_the_batch_deadlines_on_the_server_clock(self, client):
        lab = running_lab(ExpiryLab(client, use_sandbox=False))
        names = [KEYS.key("batch", i) for i in range(50)]
        try:
            now = lab.sample(time.perf_counter()).server_s
            first, last = lab.load(names, 10_000)
            assert now + 9.5 < first <= last < now + 10.5
            assert all(0 < client.pttl(name) <= 10_000 for name in names)
        finally:
            KEYS.cleanup(client)

    def test_load_refuses_bad_input(self, fake_client):
        lab = running_lab(ExpiryLab(fake_client, use_sandbox=False))
        with pytest.raises(InvalidArgument, match="at least one key"):
            lab.load([], 100)
        with pytest.raises(InvalidArgument, match="ttl_ms must be > 0"):
            lab.load([KEYS.key("x")], 0)

    def test_past_ttl_in_memory_subtracts_the_living_and_skips_the_expiry_instant(self):
        sample = expiry_lab.KeyspaceSample
        baseline = sample(0.0, 100.0, dbsize=7, expired_keys=3)
        deadlines = (100.2, 100.21)  # a batch of 10 keys with a 200 ms TTL, written at 100.0
        samples = [
            sample(0.1, 100.1, dbsize=7 + 50 + 10, expired_keys=3),  # before: 50 others + the 10, all alive
            sample(0.2, 100.205, dbsize=7 + 50 + 10, expired_keys=3),  # expiring right now: skipped
            sample(0.5, 100.5, dbsize=7 + 50 + 8, expired_keys=5),  # after: 8 linger, 2 deleted
        ]
        looks = expiry_lab.past_ttl_in_memory(
            samples, baseline, batch_size=10, other_keys=50, deadlines=deadlines, ttl_ms=200
        )
        assert [(round(look.since_written_s, 3), look.lingering, look.deleted) for look in looks] == [
            (0.1, 0, 0),
            (0.5, 8, 2),
        ]
        without_info = expiry_lab.past_ttl_in_memory(
            [sample(0.5, 100.5, 60, None)], sample(0.0, 100.0, 0, None),
            batch_size=10, other_keys=50, deadlines=deadlines, ttl_ms=200,
        )  # fmt: skip
        ((since_written_s, lingering, deleted),) = without_info
        assert (round(since_written_s, 3), lingering, deleted) == (0.5, 10, None)  # no INFO: no deletion count
