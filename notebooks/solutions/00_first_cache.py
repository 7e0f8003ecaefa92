"""Solutions for 00 · Your first cache: cache-aside in five minutes.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 00.1
NAME_TTL_S = 300


def get_display_name(user_id):
    """Return the user's name, from Redis when it is cached."""
    key = keys.key("name", user_id)
    name = r.get(key)
    if name is None:
        name = db.get_user(user_id)["name"]
        r.set(key, name, ex=NAME_TTL_S)
    return name


# Exercise 00.2
PROFILE_TTL_S, MISSING_TTL_S = 60, 30


def get_profile_or_none(user_id):
    """Return the user's profile, or None if there is no such user; both answers are cached."""
    key = keys.key("user", user_id)
    cached = r.get(key)
    if cached is not None:
        return json.loads(cached)  # a profile, or None for "no such user"
    profile = db.get_user(user_id)
    r.set(key, json.dumps(profile), ex=PROFILE_TTL_S if profile is not None else MISSING_TTL_S)
    return profile
