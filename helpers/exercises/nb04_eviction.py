"""Notebook 04's checkers: a policy and a size for the catalogue, replayed in the eviction lab (04.1), and
for a catalogue whose popularity shifts, replayed by the eviction simulator on a sequence held out (04.2)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers.core.errors import is_whole
from helpers.core.workloads import zipf_requests
from helpers.exercises.framework import checker, expect
from helpers.harness.bulk_replay import calibrate_maxmemory, replay_cache_aside
from helpers.labs.eviction_lab import EvictionLab
from helpers.sim.eviction_engine import POLICIES, simulate_cache_aside

# -- the exercise ----------------------------------------------------------------------------------
CATALOGUE = {"items": 20_000, "skew": 0.9, "requests": 30_000, "warmup": 6_000, "seed": 2024}
CATALOGUE_MAX_ITEMS = 1_500
CATALOGUE_TARGET = 0.55


def catalogue_requests() -> np.ndarray:
    """The exercise's request sequence: item ids drawn from Zipf(0.9) over 20,000 items, seeded."""
    return zipf_requests(CATALOGUE["items"], CATALOGUE["skew"], CATALOGUE["requests"], seed=CATALOGUE["seed"])


@checker("04.1")
def check_eviction_choice(choose_eviction: Callable[[], tuple[str, int]], lab: EvictionLab) -> str:
    """Replay the catalogue workload with the learner's (policy, cache_items) and compare with the target."""
    choice = choose_eviction()
    expect(
        isinstance(choice, tuple) and len(choice) == 2,
        f"choose_eviction() returned {choice!r}, not a pair.",
        'Return a tuple: (policy, cache_items), for example ("allkeys-random", 1000).',
    )
    policy, cache_items = choice
    expect(
        policy in POLICIES,
        f"{policy!r} is not a maxmemory-policy.",
        f"Pick one of: {', '.join(POLICIES)}.",
    )
    expect(
        is_whole(cache_items, minimum=1),
        f"cache_items must be a whole number of items, got {cache_items!r}.",
        "Give the cache size as a number of items, such as 1000.",
    )
    expect(
        cache_items <= CATALOGUE_MAX_ITEMS,
        f"room for {cache_items} items is over the memory budget of {CATALOGUE_MAX_ITEMS} items.",
        "The budget is fixed: find a policy that does better with the same memory.",
    )
    expect(
        policy != "noeviction",
        "with noeviction the cache fills up and then every miss's SET fails with OOM: nothing new is ever cached.",
        "A cache needs a policy that evicts.",
    )
    with lab.borrowed() as client:
        keys = lab.keys
        maxmemory = calibrate_maxmemory(client, keys, cache_items)
        with lab.settings(maxmemory_policy=policy, maxmemory=maxmemory):
            result = replay_cache_aside(client, catalogue_requests(), keys)
        keys.cleanup(client)
    achieved = result.hit_ratio(CATALOGUE["warmup"])
    hints = {
        "lru": "Recency is the wrong signal here: with this much room even exact LRU falls short of the target "
        "(and Redis's 1 s clock makes its LRU worse still, section 4). Popularity does not change in this "
        "workload: which policy ranks keys by how often they are asked for?",
        "random": "Random eviction ignores popularity. With a skewed workload, keep the keys that are asked for most.",
        "ttl": "Every item has the same TTL, so volatile-ttl evicts the oldest insert: FIFO, no better than random.",
        "lfu": f"Use the whole budget of {CATALOGUE_MAX_ITEMS} items.",
    }
    expect(
        achieved >= CATALOGUE_TARGET,
        f"{policy} with room for {cache_items} items reached a hit ratio below the {CATALOGUE_TARGET:.0%} target.",
        hints[policy.rsplit("-", 1)[1]],
    )
    return (
        f"{policy} with room for {cache_items} items reached the {CATALOGUE_TARGET:.0%} hit-ratio target "
        "on the catalogue workload."
    )


# -- 04.2: a season change -------------------------------------------------------------------------------
SHIFT = {"items": 20_000, "skew": 0.9, "requests": 40_000, "practice_seed": 11, "held_out_seed": 2025}
SHIFT_MAX_ITEMS = 1_500
SHIFT_TARGET = 0.50


def shifted_catalogue(seed: int) -> np.ndarray:
    """Zipf(0.9) page views over 20,000 products; halfway through, the season changes: ranks are reshuffled."""
    half = SHIFT["requests"] // 2
    before = zipf_requests(SHIFT["items"], SHIFT["skew"], half, seed=seed)
    after = zipf_requests(SHIFT["items"], SHIFT["skew"], half, seed=seed + 1)
    new_ranks = np.random.default_rng(seed).permutation(SHIFT["items"])
    return np.concatenate([before, new_ranks[after]])


def hit_ratio_after_shift(hits: np.ndarray) -> float:
    """The share of hits among the page views after the season change (the second half)."""
    return float(np.mean(hits[len(hits) // 2 :]))


@checker("04.2")
def check_choice_after_shift(choose_for_shift: Callable[[], tuple[str, int]]) -> str:
    """Replay a held-out season-change sequence in the simulator with the learner's (policy, cache_items)."""
    choice = choose_for_shift()
    expect(
        isinstance(choice, tuple) and len(choice) == 2,
        f"choose_for_shift() returned {choice!r}, not a pair.",
        'Return a tuple: (policy, cache_items), for example ("allkeys-random", 1000).',
    )
    policy, cache_items = choice
    expect(policy in POLICIES, f"{policy!r} is not a maxmemory-policy.", f"Pick one of: {', '.join(POLICIES)}.")
    expect(
        policy != "noeviction",
        "with noeviction the cache fills up and then every miss's SET fails with OOM: nothing new is ever cached.",
        "A cache needs a policy that evicts.",
    )
    expect(
        is_whole(cache_items, minimum=1) and cache_items <= SHIFT_MAX_ITEMS,
        f"cache_items must be a whole number of items up to the budget of {SHIFT_MAX_ITEMS}, got {cache_items!r}.",
        "The budget is fixed: find the policy that does best with it.",
    )
    hits = simulate_cache_aside(shifted_catalogue(SHIFT["held_out_seed"]), capacity_keys=cache_items, policy=policy)
    achieved = hit_ratio_after_shift(hits)
    hints = {
        "lfu": "LFU's counters still rank last season's best-sellers first: they lose one per lfu-decay-time "
        "minute, and this whole sequence lasts well under a minute. Which policy follows what is asked for now?",
        "random": "Random eviction ignores what is asked for. After the shift, what was asked for recently is "
        "the better guide: simulate the policies on the practice sequence and compare them after the shift.",
        "ttl": "Every item has the same TTL, so volatile-ttl evicts the oldest insert: FIFO, no better than random.",
        "lru": f"Use the whole budget of {SHIFT_MAX_ITEMS} items.",
    }
    expect(
        achieved >= SHIFT_TARGET,
        f"{policy} with room for {cache_items} items served less than {SHIFT_TARGET:.0%} of the page views after "
        "the season change, on a sequence it had not seen.",
        hints[policy.rsplit("-", 1)[1]],
    )
    return (
        f"{policy} with room for {cache_items} items served at least {SHIFT_TARGET:.0%} of the page views after "
        "the season change, on a sequence your simulation had not seen."
    )
