"""Solutions for 01 · TTL expiry: how long a cached value lives.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 01.1
def update_cached_city(user_id, city):
    """Change the city in the cached profile, if there is one, without touching its TTL."""
    key = keys.key("user", user_id)
    cached = r.get(key)
    if cached is None:
        return
    profile = json.loads(cached)
    profile["city"] = city
    r.set(key, json.dumps(profile), keepttl=True, xx=True)  # XX: never re-create a key that just expired
