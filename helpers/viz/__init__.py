"""Pictures: the figure style, sequence and flow diagrams (03), the stampede figures (05), the near
cache's crossing race (06), hit ratio over time under a changing workload (09) and the interactive
widgets (01, 02).

May import: ``helpers.core``, ``helpers.sim`` and ``helpers.harness`` (for the results it draws).
"""
