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


# Exercise 05.2
def xfetch_get_locked(conn, key, compute, now_s, u):
    """XFetch where only the read that wins the refresh lock recomputes early; the others serve the cache."""
    cached = conn.get(key)
    if cached is not None:
        entry = json.loads(cached)
        if -entry["delta"] * np.log(u) < entry["expires_at"] - now_s:
            return entry["value"]  # not picked: serve the cached value
        if not conn.set(key + ":refresh", 1, nx=True, px=LOCK_TTL_MS):
            return entry["value"]  # picked, but another read is refreshing: serve the cached value
    value, delta_s = compute()
    entry = {"value": value, "delta": delta_s, "expires_at": now_s + XFETCH_TTL_S}
    conn.set(key, json.dumps(entry), px=round(2_000 * XFETCH_TTL_S))  # outlives expires_at: XFetch decides
    conn.delete(key + ":refresh")
    return value
