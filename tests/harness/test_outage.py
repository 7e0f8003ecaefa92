"""The simulated outage fails as a real client would, on its injected clock; the stall probe sees a block."""

from __future__ import annotations

import pytest
import redis

from helpers.core.clock import FakeClock
from helpers.core.errors import InvalidArgument
from helpers.harness.outage import HUNG, REFUSED, UP, SimulatedOutage, StallProbe, stall_probe


@pytest.fixture
def outage(fake_client):
    return SimulatedOutage(fake_client, FakeClock(), timeout_s=0.05)


def test_up_forwards_every_command(outage):
    assert outage.set("rcp:test:outage:k", "v", px=1000)
    assert outage.get("rcp:test:outage:k") == "v"
    assert (outage.attempts, outage.failures, outage.waited_s) == (2, 0, 0.0)
    outage.client.delete("rcp:test:outage:k")


def test_refused_fails_at_once_and_hung_after_the_timeout(outage):
    started = outage.clock.now()
    outage.set_state(REFUSED)
    with pytest.raises(redis.exceptions.ConnectionError):
        outage.get("k")
    assert outage.clock.now() == started
    outage.set_state(HUNG)
    with pytest.raises(redis.exceptions.TimeoutError):
        outage.set("k", "v")
    assert outage.clock.now() == pytest.approx(started + 0.05)
    assert (outage.attempts, outage.failures, outage.waited_s) == (2, 2, pytest.approx(0.05))
    outage.set_state(UP)
    assert outage.get("rcp:test:outage:nothing") is None


def test_an_unknown_state_is_refused(outage):
    with pytest.raises(InvalidArgument, match="state must be one of"):
        outage.set_state("down")


def test_the_stall_probe_sees_every_client_wait_for_a_blocking_command(sandbox):
    def block(client):
        client.execute_command("CLIENT", "PAUSE", 300)  # blocks every other client's commands, like a slow one

    def make_client():
        return redis.Redis.from_url(sandbox.url, socket_timeout=5)

    probe = stall_probe(make_client, block, clients=3, before_s=0.05, after_s=0.45)
    assert len(probe.pings) == 3 and probe.errors == 0
    assert all(wait >= 0.1 for wait in probe.worst_wait_s()), probe.worst_wait_s()
    assert probe.blocked_until >= probe.blocked_from


def test_a_ping_sent_before_the_block_and_answered_after_it_counts_as_waiting_during_it():
    probe = StallProbe(pings=[[(0.9, 0.6), (1.6, 0.001)], [(0.5, 0.001)]], blocked_from=1.0, blocked_until=1.5)
    assert probe.waits_during_block() == [0.6, 0.0]
    assert probe.worst_wait_s() == [0.6, 0.001]


def test_the_probe_needs_a_client():
    with pytest.raises(InvalidArgument):
        stall_probe(lambda: None, lambda client: None, clients=0)
