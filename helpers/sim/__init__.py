"""Models and simulators: closed-form TTL and hit-ratio models, XFetch, the eviction engine that
mirrors Redis's (with the one cache-aside loop over it) and its redis-py look-alike, and the one root
finder the models share (``solve``); libCacheSim's research policies and SIEVE with a pluggable hand
(``modern_eviction``).

May import: ``helpers.core``.
"""
