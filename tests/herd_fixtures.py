"""What the herd tests and notebook 05's checker tests share: a key space, the hot key, and the fixtures.

Used as a pytest plugin (``pytest_plugins = ["herd_fixtures"]``), like ``notebook_code``.
"""

from __future__ import annotations

import pytest

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase

KEYS = KeySpace("05-test")
HOT = KEYS.key("hot")
LOCK = HOT + ":lock"
TTL_MS = 10_000

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@pytest.fixture
def db() -> PrimaryDatabase:
    """A small primary database with a 30 ms query, so a herd's recomputations overlap."""
    return PrimaryDatabase(users=10, delay_ms=30)


@pytest.fixture
def cache(client):
    """The test's client, with the 05 test keys deleted before and after."""
    KEYS.cleanup(client)
    yield client
    KEYS.cleanup(client)
