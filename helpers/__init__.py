"""Plumbing for the Redis Caching Patterns notebooks.

One module per concern:

- ``backend``: connect to fakeredis (default) or the server named by ``REDIS_URL``.
- ``sandbox``: start and always stop a private, throwaway ``redis-server``.
- ``capabilities``: ask what the connected backend can do (INFO, eviction, OBJECT, ...).
- ``keys``: one key prefix per notebook, and cleanup by SCAN over that prefix only.
- ``primary_db``: the SQLite source of truth, with a query counter and a labelled delay.
- ``timing``: latency measurement and percentiles.
- ``workloads``: seeded request streams (Poisson arrivals, Zipf popularity).
- ``plots``: small matplotlib helpers that label every figure with its backend.
- ``checks``: the exercise-checking framework used by the "Your turn" cells.
- ``errors``: short, actionable error messages.

The caching code a learner is here to learn stays in the notebooks; these modules hide plumbing.
"""

__version__ = "0.1.0"
