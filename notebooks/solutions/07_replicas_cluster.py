"""Solutions for 07 · Replicas and Redis Cluster: consistency windows past one server.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 07.1
class ReadYourWrites:
    """Reads from the replica, except a user's own reads shortly after that user wrote."""

    def __init__(self, primary, replica, window_s=1.0, clock=time.monotonic):
        self.primary, self.replica = primary, replica
        self.window_s, self.clock = window_s, clock
        self.last_write = {}  # user -> when that user last wrote, on self.clock

    def write(self, user, key, value):
        self.primary.set(key, value)
        self.last_write[user] = self.clock()

    def read(self, user, key):
        wrote_at = self.last_write.get(user)
        if wrote_at is not None and self.clock() - wrote_at < self.window_s:
            return self.primary.get(key)  # this user may have written it: only the primary surely has it
        return self.replica.get(key)


# Exercise 07.2
def user_keys(user_id):
    """(profile key, version key) for one user, in one hash slot."""
    return f"profile:{{user:{user_id}}}", f"version:{{user:{user_id}}}"
