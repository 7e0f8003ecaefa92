"""Solutions for 01 · TTL expiry: how long a cached value lives.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 01.1
def update_city(user_id, city):
    """Change the user's city in the database, then drop the cached profile."""
    db.update_user(user_id, city=city)  # 1. the database is the truth
    r.delete(keys.key("user", user_id))  # 2. the next read loads the fresh row


# Exercise 01.2
SLIDING_TTL_S = 60


def read_profile_sliding(user_id):
    """Cache-aside with a sliding TTL: every hit renews the TTL in the same command."""
    key = keys.key("user", user_id)
    cached = r.getex(key, ex=SLIDING_TTL_S)  # read and renew: one command
    if cached is not None:
        return json.loads(cached)
    profile = db.get_user(user_id)
    r.set(key, json.dumps(profile), ex=SLIDING_TTL_S)
    return profile
