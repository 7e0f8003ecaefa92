"""Solutions for 06 · The near cache, kept fresh by CLIENT TRACKING.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 06.1
def stage_the_race():
    """The order of the four steps that leaves the unguarded near cache stale after the invalidation."""
    return [SEND, WRITE, DELIVER, RECEIVE]


# Exercise 06.2
def get_many(near, keys):
    """Read several keys with one MGET, keeping only the values no invalidation overtook."""
    markers = {key: object() for key in keys}
    near.local.update(markers)  # every key is "being fetched"
    values = near.redis.mget(keys)
    for key, value in zip(keys, values, strict=True):
        if near.local.get(key) is markers[key]:
            near.local[key] = (value, near.clock() + near.ttl_s)
    return values
