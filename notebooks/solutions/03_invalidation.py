"""Solutions for 03 · Invalidation versus write-through, and the races between them.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 03.1
def rename_user(cache, db, user_id, name):
    """Rename a user in the database, then invalidate both cached copies."""
    row = db.update_user(user_id, name=name)
    cache.delete(keys.key("user", user_id), keys.key("name", user_id))  # one DEL, both keys
    return row


# Exercise 03.2
def stage_race():
    """Return a schedule (a list of turns) for a reader and a write-through writer that ends stale."""
    return ["reader", "reader", "writer*", "reader*"]  # read v1, the writer stores v2, then v1 lands on top
