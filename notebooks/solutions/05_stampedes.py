"""Solutions for 05 · Cache stampedes: the herd reproduced, then tamed rung by rung.

Try the exercise first. Each solution runs in the notebook after its setup cells,
which define the names it uses (such as r, db and keys).
"""

# Exercise 05.1
def get_or_compute(conn, key, compute, ttl_ms):
    """Return the value cached under key; on a miss, only the lock holder calls compute()."""
    lock_key = key + ":lock"
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        cached = conn.get(key)
        if cached is not None:
            return json.loads(cached)
        token = secrets.token_hex(16)
        if conn.set(lock_key, token, nx=True, px=LOCK_TTL_MS):
            try:
                cached = conn.get(key)  # filled by the previous holder just before we took the lock?
                if cached is not None:
                    return json.loads(cached)
                value = compute()
                conn.set(key, json.dumps(value), px=ttl_ms)
                return value
            finally:
                release_lock(keys=[lock_key], args=[token], client=conn)
        time.sleep(LOCK_POLL_S)
    raise TimeoutError(f"no value for {key} after {LOCK_WAIT_S} s")
