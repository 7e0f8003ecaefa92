"""Notebook 09's checkers: a policy, decay and memory for a workload that shifts (09.1), and SIEVE's hand (09.2).

Both replay held-out sequences in the simulators (``sim.eviction_engine``, ``sim.modern_eviction``), which are
deterministic: a loaded machine changes nothing in their verdicts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers.core.errors import is_whole
from helpers.core.workloads import interleave_scan, shift_popularity, zipf_requests
from helpers.exercises.framework import checker, expect
from helpers.sim.cache_models import hit_ratio
from helpers.sim.eviction_engine import POLICIES, simulate_cache_aside
from helpers.sim.modern_eviction import SieveLoop, sieve_hits

# -- 09.1: a workload whose popularity shifts ------------------------------------------------------
SHIFT_TASK = {
    "keys": 5_000,
    "skew": 0.9,
    "requests": 40_000,
    "shift_at": 20_000,
    "offset": 2_500,
    "seconds_per_request": 0.05,
    "warmup": 4_000,
    "seed": 909,
}
HELD_OUT_SEED = 1909  # the checker's sequence: the same kind, other requests
SHIFT_MAX_ITEMS = 300
SHIFT_TARGET = 0.50


def shift_task_requests(seed: int = SHIFT_TASK["seed"]) -> np.ndarray:
    """The exercise's workload: Zipf(0.9) over 5,000 keys whose hot keys change half way (seeded)."""
    task = SHIFT_TASK
    ranks = zipf_requests(task["keys"], task["skew"], task["requests"], seed=seed)
    return shift_popularity(ranks, at=task["shift_at"], offset=task["offset"], n_keys=task["keys"])


def shift_task_times() -> np.ndarray:
    """When each request of the exercise's workload arrives, in seconds (20 a second: 33 minutes in all)."""
    return np.arange(SHIFT_TASK["requests"]) * SHIFT_TASK["seconds_per_request"]


def shift_task_hit_ratio(policy: str, lfu_decay_time: int, cache_items: int, seed: int = SHIFT_TASK["seed"]) -> float:
    """The simulated hit ratio (after the warm-up) of a choice on the exercise's workload."""
    hits = simulate_cache_aside(
        shift_task_requests(seed),
        capacity_keys=cache_items,
        policy=policy,
        times_s=shift_task_times(),
        lfu_decay_time=lfu_decay_time,
    )
    return hit_ratio(hits, SHIFT_TASK["warmup"])


@checker("09.1")
def check_shift_choice(choose_for_shift: Callable[[], tuple[str, int, int]]) -> str:
    """Replay a held-out shifting sequence with the learner's (policy, lfu-decay-time, cache_items)."""
    choice = choose_for_shift()
    expect(
        isinstance(choice, tuple) and len(choice) == 3,
        f"choose_for_shift() returned {choice!r}, not a triple.",
        'Return (policy, lfu_decay_time, cache_items), for example ("allkeys-lru", 1, 200).',
    )
    policy, decay, cache_items = choice
    expect(policy in POLICIES, f"{policy!r} is not a maxmemory-policy.", f"Pick one of: {', '.join(POLICIES)}.")
    expect(
        policy != "noeviction",
        "with noeviction the cache fills up and then every miss's SET fails: nothing new is ever cached.",
        "A cache needs a policy that evicts.",
    )
    expect(
        is_whole(decay, minimum=0) and is_whole(cache_items, minimum=1),
        f"lfu_decay_time and cache_items must be whole numbers, got {decay!r} and {cache_items!r}.",
        "lfu-decay-time is in minutes (0 means never decay); the cache size is a number of keys.",
    )
    expect(
        cache_items <= SHIFT_MAX_ITEMS,
        f"room for {cache_items} keys is over the memory budget of {SHIFT_MAX_ITEMS} keys.",
        "The budget is fixed: find a policy and a decay that do better with the same memory.",
    )
    achieved = shift_task_hit_ratio(policy, decay, cache_items, seed=HELD_OUT_SEED)
    if cache_items < SHIFT_MAX_ITEMS:
        hint = f"Use the whole budget of {SHIFT_MAX_ITEMS} keys."
    elif not policy.endswith("-lfu"):
        hint = "Before the shift, counting hits keeps the hot keys better than recency does (section 1): try LFU."
    elif decay == 0:
        hint = "Without decay, yesterday's hot keys keep their high counters for ever. Let them decay."
    elif decay == 1:
        hint = "Decaying every minute also forgets today's warm keys between their requests: try a slower decay."
    else:
        hint = "After the shift the old hot keys keep their places until their counters decay: try a faster decay."
    chosen = f"{policy} (lfu-decay-time {decay}) with room for {cache_items} keys"
    expect(
        achieved >= SHIFT_TARGET,
        f"{chosen} missed the {SHIFT_TARGET:.0%} target on a held-out sequence.",
        hint + " Simulate your candidates with shift_task_hit_ratio(...) first.",
    )
    return f"{chosen} reached the {SHIFT_TARGET:.0%} target on a held-out sequence of the same kind."


# -- 09.2: SIEVE's hand ----------------------------------------------------------------------------
SIEVE_CAPACITY = 100


def _reference_pick_victim(order: list[int], visited: dict[int, bool], hand: int) -> int:
    while visited[order[hand]]:
        visited[order[hand]] = False
        hand = (hand + 1) % len(order)
    return hand


def sieve_check_sequences() -> dict[str, np.ndarray]:
    """The held-out sequences the SIEVE checker replays: a skewed one and one with a scan."""
    skewed = zipf_requests(2_000, 0.9, 6_000, seed=2909)
    scanned, _ = interleave_scan(skewed, 2_000, 3_000, per_request=1, first_key=2_000)
    return {"a Zipf workload": skewed, "a workload with a scan": scanned}


def _probe(
    sieve_pick_victim: Callable[[list[int], dict[int, bool], int], int], bits: str, hand: int
) -> tuple[object, str]:
    """Call the learner's step on keys 10, 11 ... with visited bits like "01100"; return (victim, bits after)."""
    order = [10 + i for i in range(len(bits))]
    visited = {key: bit == "1" for key, bit in zip(order, bits, strict=True)}
    victim = sieve_pick_victim(order, visited, hand)
    return victim, "".join("1" if visited[key] else "0" for key in order)


@checker("09.2")
def check_sieve_hand(sieve_pick_victim: Callable[[list[int], dict[int, bool], int], int]) -> str:
    """Probe the learner's eviction step on small states, then run SIEVE with it and compare every hit."""
    victim, _ = _probe(sieve_pick_victim, "00000", 2)
    expect(
        victim == 2,
        f"with no key visited and the hand at 2, your step chose {victim!r}.",
        "When the key at the hand was not visited, it is the victim: return `hand` itself.",
    )
    victim, after = _probe(sieve_pick_victim, "01100", 1)
    expect(
        victim != 1,
        "your step evicted the visited key at the hand: that is FIFO.",
        "A visited key gets a second chance: skip it (clearing its bit) and look at the next newer key.",
    )
    expect(
        victim == 3,
        f"with keys 1 and 2 visited and the hand at 1, your step chose {victim!r}, not 3.",
        "Start at `hand` and move toward newer keys (index + 1, wrapping to 0); stop at the first unvisited key.",
    )
    expect(
        after == "00000",
        f"after choosing 3, the visited bits are {after}, not 00000.",
        "Clear each visited bit you pass (visited[key] = False): that is the second chance, used up.",
    )
    try:
        victim, after = _probe(sieve_pick_victim, "10111", 2)
    except IndexError:
        victim, after = "an IndexError", ""
    expect(
        victim == 1,
        f"with the hand at 2 and only key 1 unvisited, your step chose {victim}.",
        "Past the newest key (the last index) the hand wraps around to index 0.",
    )
    try:
        victim, after = _probe(sieve_pick_victim, "11111", 1)
    except SieveLoop:
        victim = "nothing"
    expect(
        victim == 1 and after == "00000",
        f"with every key visited and the hand at 1, your step chose {victim} (bits after: {after}).",
        "After a full turn every bit is cleared, so the key at the hand is the victim.",
    )
    for name, requests in sieve_check_sequences().items():
        expected = sieve_hits(requests, SIEVE_CAPACITY, _reference_pick_victim)
        got = sieve_hits(requests, SIEVE_CAPACITY, sieve_pick_victim)
        expect(
            np.array_equal(got, expected),
            f"on {name} your SIEVE's hits differ from SIEVE's ({int(got.sum())} against {int(expected.sum())}).",
            "Start at `hand` and move toward newer keys (index + 1, wrapping to 0); stop at the first unvisited key.",
        )
    return "your hand evicts exactly what SIEVE evicts, on small states and request for request on two workloads."
