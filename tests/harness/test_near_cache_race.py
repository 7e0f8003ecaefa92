"""The crossing race, replayed on a real server and on the simulated wire: same steps, same outcome."""

from __future__ import annotations

import pytest

from helpers.core.keys import short_key
from helpers.exercises.nb06_near_cache import ReferenceNearCache, UnguardedNearCache
from helpers.harness.near_cache_race import (
    DELIVER,
    RECEIVE,
    SEND,
    STEPS,
    WRITE,
    CrossingError,
    stage_crossing,
)

KEY = "rcp:06-test:race"
CROSSING = [SEND, WRITE, DELIVER, RECEIVE]


@pytest.fixture(params=["redis-server", "simulated"])
def url(request) -> str | None:
    return request.getfixturevalue("sandbox").url if request.param == "redis-server" else None


def crossing(near_class, schedule, url):
    return stage_crossing(near_class, lambda near: near.get(KEY), schedule, url=url, keys=[KEY], written_key=KEY)


def test_the_crossing_leaves_the_unguarded_near_cache_stale(url):
    replayed = crossing(UnguardedNearCache, CROSSING, url)
    assert [step.name for step in replayed.steps] == CROSSING
    assert replayed.delivered and replayed.stale_reads_after == 2 and replayed.redis_reads_after == 0
    assert replayed.steps[2].detail == f"invalidate [{short_key(KEY)!r}]" and "rcp:" not in repr(replayed)
    assert replayed.steps[3].local_after == "'v1'"  # the reply landed after the invalidation
    assert replayed.returned == "v1" and replayed.read_command == f"GET {KEY}"
    assert "STALE" in replayed.verdict and "STALE" in repr(replayed)
    assert replayed.where == ("a real redis-server" if url else "simulated (no redis-server)")
    assert repr(replayed).startswith(f"replayed on {replayed.where}:")


def test_the_guard_drops_the_overtaken_reply(url):
    replayed = crossing(ReferenceNearCache, CROSSING, url)
    assert replayed.steps[0].local_after == "being fetched"
    assert replayed.delivered and replayed.stale_reads_after == 0 and replayed.redis_reads_after == 1
    assert replayed.verdict.startswith("fresh")


def test_a_reply_read_before_the_invalidation_is_removed_by_it(url):
    replayed = crossing(UnguardedNearCache, [SEND, RECEIVE, WRITE, DELIVER], url)
    assert replayed.delivered and replayed.stale_reads_after == 0


def test_a_write_before_the_read_sends_nothing_and_the_reply_is_new(url):
    replayed = crossing(UnguardedNearCache, [WRITE, DELIVER, SEND, RECEIVE], url)
    assert not replayed.delivered and replayed.returned == "v2"
    assert replayed.steps[1].detail == "nothing has arrived"
    assert replayed.verdict.startswith("no invalidation")


@pytest.mark.parametrize(
    "schedule", [[SEND, WRITE, DELIVER], [RECEIVE, SEND, WRITE, DELIVER], "SEND WRITE DELIVER RECEIVE"]
)
def test_bad_schedules_are_refused(schedule):
    with pytest.raises(CrossingError):
        crossing(UnguardedNearCache, schedule, None)


def test_a_read_that_never_reaches_redis_is_refused():
    with pytest.raises(CrossingError, match="never reached Redis"):
        stage_crossing(UnguardedNearCache, lambda near: None, CROSSING, url=None, keys=[KEY], written_key=KEY)


def test_the_written_key_must_be_one_of_the_keys():
    with pytest.raises(ValueError):
        stage_crossing(UnguardedNearCache, lambda n: n.get(KEY), CROSSING, url=None, keys=[KEY], written_key="x")


def test_an_mget_crosses_like_a_get(url):
    names = [f"{KEY}:{n}" for n in range(3)]

    def read(near):
        return near.redis.mget(names)

    replayed = stage_crossing(UnguardedNearCache, read, CROSSING, url=url, keys=names, written_key=names[1])
    assert replayed.read_command == "MGET " + " ".join(names) and replayed.returned == ["v1"] * 3
    assert replayed.delivered and sorted(STEPS) == sorted(step.name for step in replayed.steps)
