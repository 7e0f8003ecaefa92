"""Seeded Poisson schedules, their real-time replay (with real TTLs on both backends), and clustered shares."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.clock import FakeClock
from helpers.core.errors import InvalidArgument
from helpers.core.keys import KeySpace
from helpers.harness.timed_replay import (
    READ,
    UPDATE,
    Event,
    MachineTooBusy,
    mean_with_error,
    poisson_events,
    replay_in_real_time,
    replay_on_schedule,
    share_with_error,
)


class TestPoissonEvents:
    def test_counts_match_the_rates(self):
        events = poisson_events([10.0] * 100, 10.0, seed=1, update_rates=[1.0] * 100)
        reads = sum(e.kind == READ for e in events)
        updates = sum(e.kind == UPDATE for e in events)
        assert abs(reads - 10_000) < 5 * 100  # Poisson: standard deviation sqrt(10,000) = 100
        assert abs(updates - 1_000) < 5 * 32
        assert {e.key for e in events} == set(range(100))

    def test_each_key_gets_its_own_rate(self):
        events = poisson_events([1.0, 50.0], 20.0, seed=2)
        per_key = np.bincount([e.key for e in events])
        assert abs(per_key[0] - 20) < 5 * np.sqrt(20) and abs(per_key[1] - 1000) < 5 * np.sqrt(1000)

    def test_sorted_within_the_duration_and_reproducible(self):
        events = poisson_events([5.0] * 10, 2.0, seed=3)
        times = [e.at_s for e in events]
        assert times == sorted(times) and times[0] >= 0 and times[-1] < 2.0
        assert events == poisson_events([5.0] * 10, 2.0, seed=3)
        assert events != poisson_events([5.0] * 10, 2.0, seed=4)

    def test_gaps_look_exponential(self):
        times = np.array([e.at_s for e in poisson_events([100.0], 100.0, seed=5)])
        gaps = np.diff(times)
        assert gaps.mean() == pytest.approx(0.01, rel=0.05)
        assert gaps.std() == pytest.approx(0.01, rel=0.05)  # exponential: standard deviation equals the mean

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"read_rates": [], "duration_s": 1.0}, "one rate per key"),
            ({"read_rates": [1.0], "duration_s": 0}, "duration_s must be > 0"),
            ({"read_rates": [1.0, -1.0], "duration_s": 1.0}, "read rate of key 1"),
            ({"read_rates": [1.0], "duration_s": 1.0, "update_rates": [1.0, 2.0]}, "update_rates needs one rate"),
        ],
    )
    def test_bad_input(self, kwargs, message):
        with pytest.raises(InvalidArgument, match=message):
            poisson_events(seed=0, **kwargs)


class TestReplayInRealTime:
    def test_calls_the_handler_in_order_never_early(self):
        events = [Event(0.0, 0), Event(0.05, 1), Event(0.1, 0, UPDATE)]
        seen = []
        run = replay_in_real_time(events, lambda e: seen.append(e) or e.key * 10)
        assert seen == events and run.results == [0, 10, 0]
        assert np.all(run.ran_at_s >= np.array([0.0, 0.05, 0.1]) - 1e-6)
        assert run.lag.count == 3 and run.lag.max_ms >= 0

    def test_late_events_run_back_to_back_or_are_skipped(self):
        clock = FakeClock()  # deterministic: no real sleeping, no load effects
        events = [Event(0.0, 0), Event(0.01, 1), Event(0.02, 2), Event(0.3, 3)]

        def slow_first(event):
            if event.key == 0:
                clock.advance(0.1)  # the first call takes 100 ms: the replay is now 80-90 ms late for keys 1 and 2
            return event.key

        bunched = replay_in_real_time(events, slow_first, clock=clock)
        assert bunched.results == [0, 1, 2, 3] and bunched.skipped == 0 and bunched.ran.all()
        assert bunched.ran_at_s.tolist() == pytest.approx([0.0, 0.1, 0.1, 0.3])  # squeezed together, then on time
        skipping = replay_in_real_time(events, slow_first, skip_late_s=0.005, clock=clock)
        assert skipping.results == [0, None, None, 3] and skipping.skipped == 2
        assert skipping.ran.tolist() == [True, False, False, True]
        assert np.isnan(skipping.ran_at_s[1:3]).all() and skipping.ran_at_s[3] == pytest.approx(0.3)
        assert skipping.lag.count == 2  # the lag describes the events that ran

    def test_a_slightly_late_event_still_runs(self):
        clock = FakeClock()
        events = [Event(0.0, 0), Event(0.01, 1)]
        run = replay_in_real_time(
            events, lambda e: clock.advance(0.013) if e.key == 0 else e.key, skip_late_s=0.005, clock=clock
        )
        assert run.ran.tolist() == [True, True]  # 3 ms late is within 5 ms
        assert run.ran_at_s.tolist() == pytest.approx([0.0, 0.013]) and clock.sleeps == []

    def test_an_early_replay_sleeps_exactly_until_each_event(self):
        clock = FakeClock()
        run = replay_in_real_time([Event(0.02, 0), Event(0.05, 1)], lambda e: e.key, clock=clock)
        assert clock.sleeps == pytest.approx([0.02, 0.03]) and run.lag.max_ms == pytest.approx(0.0, abs=1e-9)

    @pytest.mark.parametrize("bad", [0, -1])
    def test_skip_late_must_be_positive(self, bad):
        with pytest.raises(InvalidArgument, match="skip_late_s"):
            replay_in_real_time([Event(0.0, 0)], lambda e: None, skip_late_s=bad)

    def test_empty_schedule_is_refused(self):
        with pytest.raises(InvalidArgument, match="at least one event"):
            replay_in_real_time([], lambda e: None)

    def test_real_ttls_run_out_between_events(self, client):
        """A read within the TTL hits; a read after it misses: the backend's own expiry, in milliseconds."""
        keys = KeySpace("01")
        key = keys.key("replay-test")
        client.delete(key)

        def read(_event):
            if client.get(key) is not None:
                return "hit"
            client.set(key, "v", px=800)
            return "miss"

        try:
            run = replay_in_real_time([Event(0.0, 0), Event(0.01, 0), Event(0.9, 0)], read)
        finally:
            client.delete(key)
        assert run.results == ["miss", "hit", "miss"]


class TestReplayOnSchedule:
    EVENTS = [Event(0.0, 0), Event(0.01, 1), Event(0.02, 2), Event(0.03, 3)]

    def starved_for(self, clock, attempts_starved):
        """A handler whose first call stalls 100 ms on the first ``attempts_starved`` attempts."""
        state = {"attempt": 0}

        def reset():
            state["attempt"] += 1

        def handle(event):
            if event.key == 0 and state["attempt"] <= attempts_starved:
                clock.advance(0.1)  # a stall: the next three events are skipped
            return event.key

        return reset, handle, state

    def test_a_starved_attempt_is_not_measured_the_next_one_is(self):
        clock = FakeClock()
        reset, handle, state = self.starved_for(clock, attempts_starved=1)
        run = replay_on_schedule(self.EVENTS, handle, reset=reset, clock=clock)
        assert (run.attempts, run.skipped, state["attempt"]) == (2, 0, 2)  # reset before each attempt
        assert run.results == [0, 1, 2, 3] and run.skipped_share == 0.0

    def test_a_machine_that_never_keeps_up_gets_a_clear_error(self):
        clock = FakeClock()
        reset, handle, _ = self.starved_for(clock, attempts_starved=3)
        with pytest.raises(MachineTooBusy, match=r"3 attempts skipped 75%, 75%, 75% .* run the cell again"):
            replay_on_schedule(self.EVENTS, handle, reset=reset, clock=clock)

    def test_a_replay_that_keeps_up_runs_once(self):
        clock = FakeClock()
        resets = []
        run = replay_on_schedule(self.EVENTS, lambda e: e.key, reset=lambda: resets.append(1), clock=clock)
        assert run.attempts == 1 and resets == [1] and run.skipped_share == 0.0

    def test_bad_settings(self):
        with pytest.raises(InvalidArgument, match="between 0 and 1"):
            replay_on_schedule(self.EVENTS, lambda e: e, reset=lambda: None, max_skipped_share=1.5)
        with pytest.raises(InvalidArgument, match="attempts"):
            replay_on_schedule(self.EVENTS, lambda e: e, reset=lambda: None, attempts=0)


class TestShareWithError:
    def test_share_and_clustered_error_by_hand(self):
        share, error = share_with_error([1, 0, 1, 1], [0, 0, 1, 1])
        assert share == 0.75
        # clusters: (1 of 2), (2 of 2); residuals 1 - 1.5 = -0.5 and 2 - 1.5 = 0.5
        assert error == pytest.approx(np.sqrt(2 / 1 * 0.5 / 16))

    def test_one_cluster_has_no_error_estimate(self):
        share, error = share_with_error([True, False], [7, 7])
        assert share == 0.5 and np.isnan(error)

    def test_error_matches_the_spread_of_independent_samples(self):
        rng = np.random.default_rng(9)
        clusters = np.repeat(np.arange(50), 10)
        shares, errors = [], []
        for _ in range(300):
            share, error = share_with_error(rng.random(500) < 0.3, clusters)
            shares.append(share)
            errors.append(error)
        assert np.mean(errors) == pytest.approx(np.std(shares), rel=0.15)
        assert np.mean(errors) == pytest.approx(np.sqrt(0.3 * 0.7 / 500), rel=0.1)

    def test_correlated_clusters_give_a_larger_error(self):
        rng = np.random.default_rng(10)
        per_cluster = rng.random(50) < 0.3  # every request of a cluster has the same outcome
        flags = np.repeat(per_cluster, 10)
        _, clustered = share_with_error(flags, np.repeat(np.arange(50), 10))
        _, independent = share_with_error(flags, np.arange(500))
        assert clustered > 2.5 * independent

    def test_mismatched_or_empty_input(self):
        with pytest.raises(InvalidArgument, match="one cluster per value"):
            share_with_error([1, 0], [1])
        with pytest.raises(InvalidArgument, match="at least one value"):
            mean_with_error([], [])


class TestMeanWithError:
    def test_a_paired_difference_has_a_smaller_error_than_either_share(self):
        rng = np.random.default_rng(11)
        clusters = np.repeat(np.arange(40), 20)
        fixed = rng.random(800) < 0.5
        sliding = fixed | (rng.random(800) < 0.3)  # the same reads: sliding hits wherever fixed did, and more
        gap, gap_error = mean_with_error(sliding.astype(float) - fixed, clusters)
        _, fixed_error = share_with_error(fixed, clusters)
        assert gap == pytest.approx(sliding.mean() - fixed.mean())
        assert 0 < gap_error < fixed_error

    def test_the_mean_of_numbers_by_hand(self):
        mean, error = mean_with_error([2.0, 0.0, -1.0, 3.0], [0, 0, 1, 1])
        assert mean == 1.0
        # clusters: sums 2 and 2 over 2 requests each; residuals 2 - 2 = 0 twice
        assert error == 0.0
