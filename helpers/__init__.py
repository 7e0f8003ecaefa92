"""Plumbing for the Redis Caching Patterns notebooks. The caching code a learner is here to learn stays in
the notebooks; these subpackages hide plumbing. Each says in its docstring what it holds; ``tests/``
mirrors the tree (``helpers/harness/herd.py`` is tested by ``tests/harness/test_herd.py``).

The house, and what each subpackage may import (``tests/test_project.py`` enforces it):

- ``core``: connect to fakeredis or ``REDIS_URL`` (``backend``), private throwaway servers (``sandbox``) and
  groups of them, a primary with replicas and a 3-shard cluster (``server_group``),
  what a backend can do (``capabilities``), one key prefix per notebook and learner (``keys``), the SQLite
  primary database (``primary_db``), short errors and validators such as ``require_whole`` (``errors``),
  latency summaries (``timing``), seeded workloads and the one Poisson generator (``workloads``), EXPIRE
  options on every server (``expire_options``), the one clock every harness takes, real or fake
  (``clock``), is this machine ready (``preflight``).
  Core imports nothing of the other subpackages.
- ``sim``: models and simulators: TTL closed forms (``ttl_models``), hit-ratio models, exact LRU and
  Belady (``cache_models``), XFetch (``xfetch``), Redis's eviction engine (``eviction_engine``,
  ``lfu_counter``) and its redis-py look-alike (``simulated_redis``), the models' bisection (``solve``).
  Imports ``core`` only.
- ``harness``: what drives real clients: one interceptor that sees every command a client sends, pipelined
  or not (``intercept``), deterministic race interleavings (``interleaving``, ``rows``),
  consistency measurement and stress (``consistency``), herds of concurrent clients (``herd``,
  ``herd_results``), the real-time replay (``timed_replay``) and the pipelined bulk replay
  (``bulk_replay``), and for the near cache: tracking connections and the invalidation listener
  (``tracking``), the reply/invalidation crossing race (``near_cache_race``) and its read-path workload
  (``near_cache_workload``), and for a failing cache: a simulated outage on an injected clock and the stall
  probe (``outage``). Imports ``core`` and ``sim``.
- ``labs``: where a server-side experiment runs, settings always restored: ``expiry_lab`` (01),
  ``eviction_lab`` (04) and ``failure_lab`` (08: a private server to pause and slow down), all following
  ``base.Lab`` (lazy ``start()``, ``describe()``, ``close()``, ``kind``, context manager). Imports ``core``,
  ``sim`` and ``harness``.
- ``viz``: the figure style (``plots``), race diagrams (``diagrams``), stampede figures
  (``stampede_plots``), the near cache's crossing race (``near_cache_plots``) and interactive explorers
  (``widgets``). Imports ``core``, ``sim`` and ``harness``.
- ``exercises``: the checker framework (``framework``) and one module per notebook, ``nb00_first_cache``
  to ``nb08_cache_failures``, holding that notebook's checkers. May import anything.

Which notebook uses what, besides ``core``, ``viz.plots`` and its own ``exercises.nbNN_*`` checker module:
00 nothing more; 01 ``sim.ttl_models``, ``harness.timed_replay``, ``labs.expiry_lab``, ``viz.widgets``;
02 ``sim.ttl_models``, ``harness.timed_replay``, ``viz.widgets``; 03 ``harness.interleaving``,
``harness.consistency``, ``viz.diagrams``; 04 ``labs.eviction_lab``, ``sim.eviction_engine``, ``sim.lfu_counter``,
``sim.cache_models``, ``harness.bulk_replay``; 05 ``harness.herd``, ``harness.herd_results``, ``sim.xfetch``,
``viz.stampede_plots``; 06 ``harness.tracking``, ``harness.near_cache_race``, ``harness.near_cache_workload``,
``viz.near_cache_plots``; 07 nothing more (its private replicas and cluster come from core);
08 ``harness.outage``, ``labs.failure_lab``.
"""

__version__ = "0.1.0"
