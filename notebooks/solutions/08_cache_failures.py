"""Solutions for 08 · When the cache itself fails.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 08.1
def fail_open_client(url):
    """A cache client that fails fast: short timeouts, no retries."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=0.05,
        socket_connect_timeout=0.05,
        retry=Retry(FullJitterBackoff(), 0),
    )


def get_profile_resilient(cache, db, breaker, user_id):
    """Cache-aside through a circuit breaker that fails open to the database."""
    profile_key = keys.key("user", user_id)
    value, outcome = cached_value(cache, breaker, profile_key)  # asks the breaker first
    if value is not None:
        return json.loads(value)
    row = db.get_user(user_id)  # a miss, a failure, or an open breaker: the database answers
    if outcome == "miss" and row is not None:
        try:
            cache.set(profile_key, json.dumps(row), px=PROFILE_TTL_MS)
        except redis.exceptions.RedisError:
            breaker.record_failure()
    return row


# Exercise 08.2
def get_profile_or_none(cache, db, user_id):
    """Cache-aside with negative caching: a missing user is cached as NOT_FOUND for a short time."""
    profile_key = keys.key("profile", user_id)
    cached = cache.get(profile_key)
    if cached is not None:
        return None if cached == NOT_FOUND else json.loads(cached)
    row = db.get_user(user_id)
    if row is None:
        cache.set(profile_key, NOT_FOUND, px=NEGATIVE_TTL_MS)  # "not found", for a short time
    else:
        cache.set(profile_key, json.dumps(row), px=PROFILE_TTL_MS)
    return row
