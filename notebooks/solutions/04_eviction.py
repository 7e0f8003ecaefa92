"""Solutions for 04 · Eviction policies: what Redis forgets when memory is full.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 04.1
def choose_eviction():
    """Return (maxmemory-policy, cache size in items) for the shop's product pages."""
    return "allkeys-lfu", 1500  # popularity is stable and the cache turns over fast: count hits, use it all
