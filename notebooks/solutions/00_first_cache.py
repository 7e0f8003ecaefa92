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
