"""Harnesses that drive real clients: one command interceptor every harness uses (``intercept``), the
deterministic race interleavings (03), the consistency measurement and stress runner (03), the herd of
concurrent clients (05), the real-time replay (01, 02), the pipelined bulk replay (04), and the near
cache's tracking plumbing, crossing race and workload (06), and a simulated outage and the stall probe (08).

May import: ``helpers.core`` and ``helpers.sim``.
"""
