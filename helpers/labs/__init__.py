"""Labs: where a notebook's server-side experiment runs (the expiry lab of 01, the eviction lab of 04,
the failure lab of 08), with settings always restored. All follow one protocol, ``base.Lab``: a lazy
``start()``, ``describe()``, ``close()``, ``kind``, ``label``, and ``with``.

May import: ``helpers.core``, ``helpers.sim`` and ``helpers.harness``.
"""
