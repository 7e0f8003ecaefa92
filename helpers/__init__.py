"""Plumbing for the Redis Caching Patterns notebooks. The caching code a learner is here to learn stays in
the notebooks; these modules hide plumbing. One module per concern:

Core, used across the series
- ``backend``: connect to fakeredis (default) or the server named by ``REDIS_URL``; fail fast and clearly.
- ``sandbox``: start and always stop a private, throwaway ``redis-server``.
- ``capabilities``: ask what the connected backend can do (INFO, eviction, OBJECT, ...).
- ``keys``: one key prefix per notebook, and cleanup by SCAN over that prefix only.
- ``primary_db``: the SQLite source of truth, with a query counter and a labelled, simulated delay.
- ``timing``, ``workloads``, ``plots``: latency percentiles, seeded request streams, labelled figures.
- ``checks``: the exercise-checking framework used by the "Your turn" cells.
- ``errors``: short, actionable error messages.
- ``widgets``: interactive explorers whose logic lives in plain, tested functions.

Per topic
- 01 TTL expiry: ``ttl_models`` (closed forms), ``realtime_replay``, ``expiry_lab``, ``expire_options``,
  ``ttl_checks`` (also 02's checker).
- 03 invalidation: ``races`` (deterministic interleavings), ``consistency``, ``diagrams``.
- 04 eviction: ``eviction_lab`` (where eviction runs, settings restored), ``eviction_sim``,
  ``simulated_redis``, ``cache_models``, ``pipelined_replay``.
- 05 stampedes: ``stampede`` (herds of clients), ``stampede_plots``, ``xfetch``.
"""

__version__ = "0.1.0"
