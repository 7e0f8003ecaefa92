"""Core plumbing used across the series: connecting to Redis, private sandbox servers, what a backend can
do, key spaces per notebook and learner, the SQLite primary database, errors and validators, timing, the one
injectable clock, seeded workloads and the preflight check.

May import: nothing else in ``helpers`` (only the standard library and third-party packages).
"""
