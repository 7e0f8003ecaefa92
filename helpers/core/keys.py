"""One key prefix per notebook, and cleanup by SCAN over that prefix only.

Every key a notebook writes goes through its ``KeySpace``, so the notebooks never collide with
each other or with anything else on a shared server, and Cleanup deletes exactly what the notebook
made. Nothing in this project calls FLUSHALL or FLUSHDB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import redis

from helpers.core.errors import InvalidArgument

PROJECT_PREFIX = "rcp"  # Redis Caching Patterns
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class KeySpace:
    """The keys of one notebook: ``KeySpace("00").key("user", 42) == "rcp:00:user:42"``."""

    def __init__(self, name: str, *, project: str = PROJECT_PREFIX) -> None:
        for label, value in (("name", name), ("project", project)):
            if not isinstance(value, str) or not _SAFE_NAME.match(value):
                raise InvalidArgument(
                    f"KeySpace {label} must be letters, digits, '_', '.' or '-' (e.g. '00'), got {value!r}."
                )
        self.name = name
        self.prefix = f"{project}:{name}:"

    def key(self, *parts: object) -> str:
        """The full key for ``parts``, joined with ':' under this notebook's prefix."""
        if not parts:
            raise InvalidArgument("key() needs at least one part, e.g. keys.key('user', 42).")
        return self.prefix + ":".join(str(part) for part in parts)

    def pattern(self) -> str:
        """The SCAN MATCH pattern for every key under this prefix (glob characters escaped)."""
        return _GLOB_SPECIAL.sub(r"\\\1", self.prefix) + "*"

    def scan(self, client: redis.Redis, count: int = 500) -> Iterator[str]:
        """Iterate over this notebook's keys with SCAN (never KEYS, which blocks a busy server)."""
        for found in client.scan_iter(match=self.pattern(), count=count):
            yield found.decode() if isinstance(found, bytes) else found

    def count(self, client: redis.Redis) -> int:
        """How many keys this notebook has on the server right now."""
        return sum(1 for _ in self.scan(client))

    def cleanup(self, client: redis.Redis, batch: int = 500) -> int:
        """Delete every key under this prefix, in batches; return how many were deleted."""
        deleted = 0
        pending: list[str] = []
        for found in self.scan(client):
            pending.append(found)
            if len(pending) >= batch:
                deleted += int(client.delete(*pending))
                pending.clear()
        if pending:
            deleted += int(client.delete(*pending))
        return deleted

    def __repr__(self) -> str:
        return f"KeySpace(prefix={self.prefix!r})"
