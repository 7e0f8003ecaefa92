"""Solutions for 04 · Eviction policies: what Redis forgets when memory is full.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 04.1
def choose_eviction():
    """Return (maxmemory-policy, cache size in items) for the shop's product pages."""
    return "allkeys-lfu", 1500  # popularity is stable and the cache turns over fast: count hits, use it all


# Exercise 04.2
def choose_for_shift():
    """Return (maxmemory-policy, cache size in items) for the catalogue whose popularity shifts."""
    practice = shifted_catalogue(SHIFT["practice_seed"])
    after_change = {}
    for policy in ("allkeys-lru", "allkeys-lfu", "allkeys-random"):
        hits = simulate_cache_aside(practice, capacity_keys=SHIFT_MAX_ITEMS, policy=policy)
        after_change[policy] = hit_ratio_after_shift(hits)
    print({policy: round(ratio, 3) for policy, ratio in after_change.items()})  # LRU adapts, LFU remembers
    return max(after_change, key=after_change.get), SHIFT_MAX_ITEMS
