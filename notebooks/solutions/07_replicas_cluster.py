"""Solutions for 07 · Replicas and Redis Cluster: consistency windows past one server.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 07.1
class ReadYourWrites(UserRouter):
    def read(self, user, key):
        """The replica, except for a user who wrote less than window_s ago: the primary."""
        wrote_at = self.last_write.get(user)
        if wrote_at is not None and self.clock() - wrote_at < self.window_s:
            return self.primary.get(key)  # this user may have written it: only the primary surely has it
        return self.replica.get(key)


# Exercise 07.2
def user_keys(user_id):
    """(profile key, version key) for one user, in one hash slot."""
    return f"profile:{{user:{user_id}}}", f"version:{{user:{user_id}}}"
