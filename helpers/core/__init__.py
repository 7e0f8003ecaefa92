"""Core plumbing used across the series: connecting to Redis, private sandbox servers, what a backend can
do, key spaces, the SQLite primary database, errors, timing and seeded workloads.

May import: nothing else in ``helpers`` (only the standard library and third-party packages).
"""
