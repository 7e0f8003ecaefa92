"""The crossing diagram draws what the replay did: the reply and the invalidation cross only in the race."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers.core.errors import InvalidArgument  # noqa: E402
from helpers.exercises.nb06_near_cache import UnguardedNearCache  # noqa: E402
from helpers.harness.near_cache_race import DELIVER, RECEIVE, SEND, WRITE, stage_crossing  # noqa: E402
from helpers.viz.near_cache_plots import crossing_diagram  # noqa: E402

KEY = "rcp:06-test:plot"


def replayed(schedule):
    return stage_crossing(UnguardedNearCache, lambda n: n.get(KEY), schedule, url=None, keys=[KEY], written_key=KEY)


def test_the_race_draws_crossing_arrows():
    fig, ax = plt.subplots()
    messages = crossing_diagram(ax, replayed([SEND, WRITE, DELIVER, RECEIVE]))
    assert [m.label for m in messages] == ["GET", "reply 'v1'", "SET 'v2'", "invalidate", "handler"]
    reply, invalidation = messages[1], messages[3]
    assert reply.sent_at < invalidation.sent_at and reply.arrived_at > invalidation.arrived_at
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("STALE") for t in texts) and "'v1'" in texts
    plt.close(fig)


def test_an_early_delivery_draws_no_invalidation():
    fig, ax = plt.subplots()
    messages = crossing_diagram(ax, replayed([DELIVER, SEND, RECEIVE, WRITE]))
    assert [m.label for m in messages] == ["GET", "reply 'v1'", "SET 'v2'"]
    assert "nothing yet" in [t.get_text() for t in ax.texts]
    plt.close(fig)


def test_only_a_crossing_replay_is_drawn():
    fig, ax = plt.subplots()
    with pytest.raises(InvalidArgument):
        crossing_diagram(ax, "not a replay")
    plt.close(fig)
