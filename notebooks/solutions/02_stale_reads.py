"""Solutions for 02 · Stale reads: what a TTL costs in freshness.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 02.1
def pick_ttl(read_rate, update_rate, max_stale_share, min_hit_ratio):
    """The longest TTL (s) within the stale budget, or None when it cannot give min_hit_ratio."""
    ttl_s = longest_ttl_for_stale_budget(read_rate, update_rate, max_stale_share)
    if fixed_ttl_hit_ratio(read_rate, ttl_s) < min_hit_ratio:
        return None
    return ttl_s


# Exercise 02.2
def longest_ttl_within_budget(read_rate, update_rate, max_stale_share):
    """The longest TTL (s) whose stale-read share is at most max_stale_share, found by bisection."""
    low, high = 1e-9, 1.0
    while stale_read_share(read_rate, update_rate, high) <= max_stale_share:
        low, high = high, 2 * high  # grow until the TTL is over the budget
    for _ in range(60):
        middle = (low + high) / 2
        if stale_read_share(read_rate, update_rate, middle) <= max_stale_share:
            low = middle  # within the budget: the answer is at least this long
        else:
            high = middle
    return low
