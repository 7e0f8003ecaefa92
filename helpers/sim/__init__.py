"""Models and simulators: closed-form TTL and hit-ratio models, XFetch, the eviction engine that
mirrors Redis's and its redis-py look-alike.

May import: ``helpers.core``.
"""
