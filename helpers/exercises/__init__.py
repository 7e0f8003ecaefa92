"""Exercise checkers: the framework (``framework``) and one module per notebook (``nb00_first_cache``
... ``nb08_cache_failures``), each holding that notebook's checkers.

May import: anything in ``helpers``.
"""
