"""Solutions for 09 · Eviction when the workload changes, and Redis against the state of the art.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 09.1
def choose_for_shift():
    """Return (maxmemory-policy, lfu-decay-time in minutes, cache size in keys) for the shifting workload."""
    candidates = [("allkeys-lru", 1), ("allkeys-lfu", 0), ("allkeys-lfu", 1), ("allkeys-lfu", 2), ("allkeys-lfu", 5)]
    simulated = {(policy, decay): shift_task_hit_ratio(policy, decay, SHIFT_MAX_ITEMS) for policy, decay in candidates}
    policy, decay = max(simulated, key=simulated.get)  # the best of the candidates, all with the whole budget
    return policy, decay, SHIFT_MAX_ITEMS


# Exercise 09.2
def sieve_pick_victim(order, visited, hand):
    """The index in ``order`` of the key SIEVE evicts, clearing the visited bits the hand passes."""
    while visited[order[hand]]:
        visited[order[hand]] = False
        hand = (hand + 1) % len(order)
    return hand
