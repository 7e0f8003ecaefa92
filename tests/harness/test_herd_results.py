"""What a herd result reports, from known timelines."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.errors import InvalidArgument
from helpers.harness.herd_results import HerdResult, QuerySpan, ReadRecord, format_table, value_time


def made_up_result() -> HerdResult:
    reads = (
        ReadRecord(0, 0.000, 1.0),  # a hit
        ReadRecord(1, 0.101, 45.0, redis_ms=0.5),  # 44.5 ms away from Redis: it waited for the query
        ReadRecord(2, 0.125, 20.0, redis_ms=15.0),  # slow, but inside Redis (a busy server): not a wait
        ReadRecord(3, 0.139, 5.0, stale=True),  # overlaps the end only
        ReadRecord(4, 0.200, 1.0, error="TimeoutError"),
        ReadRecord(5, 0.110, 40.0, redis_ms=39.9),  # spans the query, but inside Redis all along: not a wait
    )
    queries = (QuerySpan(0.101, 0.141), QuerySpan(0.300, 0.310, failed=True))
    return HerdResult(
        clients=6,
        window_s=0.4,
        expires_at_s=0.1,
        reads=reads,
        queries=queries,
        recomputations=2,
        hung_clients=0,
        errors_by_type={"TimeoutError": 1},
    )


def test_result_properties_from_a_known_timeline():
    result = made_up_result()
    assert (result.read_count, result.errors, result.stale_reads) == (6, 1, 1)
    assert result.reads_that_waited == 1
    assert result.recompute_ms == pytest.approx(40.0)  # failed queries do not count
    assert result.read_rate_per_s == pytest.approx(10.0)  # one read started before the expiry at 0.1 s
    assert result.refreshed_before_expiry is False  # the query ended after the expiry
    assert result.recomputations_after_expiry == 2
    times, counts = result.in_flight(step_ms=1.0)
    assert counts[int(times.searchsorted(120.0))] == 1 and counts[:100].max() == 0
    assert abs(counts.sum() - (40 + 10)) <= 2  # 40 ms and 10 ms in flight, sampled every millisecond
    assert result.row()["waited"] == 1 and result.row()["stuck"] == 0


def test_refreshed_before_expiry_and_no_queries():
    early = HerdResult(1, 0.4, 0.25, (ReadRecord(0, 0.0, 1.0),), (QuerySpan(0.05, 0.09),), 1, 0)
    assert early.refreshed_before_expiry and early.recomputations_after_expiry == 0
    quiet = HerdResult(1, 0.4, None, (ReadRecord(0, 0.0, 1.0),), (), 0, 0)
    assert not quiet.refreshed_before_expiry and quiet.reads_that_waited == 0
    assert np.isnan(quiet.recompute_ms)
    assert quiet.read_rate_per_s == pytest.approx(2.5)  # nothing primed: over the whole window
    with pytest.raises(InvalidArgument):
        quiet.in_flight(step_ms=0)


def test_format_table_lines_up_one_row_per_result():
    text = format_table({"1 naive": made_up_result(), "2 mutex": made_up_result()})
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("rung") and "recomputations" in lines[0]
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(InvalidArgument):
        format_table({})


def test_value_time_reads_computed_at_only_from_dicts():
    assert value_time({"computed_at": 12.5}) == 12.5
    assert value_time({"computed_at": True}) is None
    assert value_time("text") is None and value_time(None) is None
