"""One key prefix per notebook and per learner, and cleanup by SCAN over that prefix only.

Every key a notebook writes goes through its ``KeySpace``: ``rcp:<notebook>:<learner>:<name>``. The
notebook part keeps the notebooks apart; the learner part keeps a room of learners apart when a
workshop points everyone's ``REDIS_URL`` at one server, so nobody sees, counts or deletes another
learner's keys, and Cleanup deletes exactly what this learner's notebook made. Nothing in this project
calls FLUSHALL or FLUSHDB.

The learner namespace is ``$RCP_LEARNER`` when set, else the OS user name plus four hex digits of a hash
of user and host name (``ada-3f9c``). The user alone is not enough (every Jupyter docker image runs as
``jovyan``), the host name tells containers and laptops apart, and both are stable across kernel restarts,
so a rerun's cleanup also finds the keys a crashed kernel left behind (a random name per kernel would not).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import socket
from collections.abc import Iterator

import redis

from helpers.core.errors import InvalidArgument

PROJECT_PREFIX = "rcp"  # Redis Caching Patterns
LEARNER_ENV = "RCP_LEARNER"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def learner_namespace() -> str:
    """This learner's namespace: $RCP_LEARNER, else '<os user>-<4 hex digits of user@host>'."""
    named = os.environ.get(LEARNER_ENV, "").strip()
    if named:
        if not _SAFE_NAME.match(named) or len(named) > 64:
            raise InvalidArgument(
                f"{LEARNER_ENV} must be up to 64 letters, digits, '_', '.' or '-' (e.g. 'ada'), got {named!r}."
            )
        return named
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name (a container with an unnamed UID)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "learner"
    digest = hashlib.sha256(f"{user}@{socket.gethostname()}".encode()).hexdigest()[:4]
    readable = _UNSAFE_CHARACTERS.sub("", user)[:24] or "learner"
    return f"{readable}-{digest}"


class KeySpace:
    """The keys of one notebook for one learner: ``KeySpace("00", learner="ada").key("user", 42)``."""

    def __init__(self, name: str, *, project: str = PROJECT_PREFIX, learner: str | None = None) -> None:
        learner = learner_namespace() if learner is None else learner
        for label, value in (("name", name), ("project", project), ("learner", learner)):
            if not isinstance(value, str) or not _SAFE_NAME.match(value):
                raise InvalidArgument(
                    f"KeySpace {label} must be letters, digits, '_', '.' or '-' (e.g. '00'), got {value!r}."
                )
        self.name = name
        self.learner = learner
        self.notebook_prefix = f"{project}:{name}:"  # shared by every learner of this notebook
        self.prefix = f"{project}:{name}:{learner}:"  # "rcp:00:ada:": this learner's keys only

    def key(self, *parts: object) -> str:
        """The full key for ``parts``, joined with ':' under this notebook's and learner's prefix."""
        if not parts:
            raise InvalidArgument("key() needs at least one part, e.g. keys.key('user', 42).")
        return self.prefix + ":".join(str(part) for part in parts)

    def pattern(self) -> str:
        """The SCAN MATCH pattern for every key under this prefix (glob characters escaped)."""
        return _GLOB_SPECIAL.sub(r"\\\1", self.prefix) + "*"

    def scan(self, client: redis.Redis, count: int = 500) -> Iterator[str]:
        """Iterate over this learner's keys of this notebook with SCAN (never KEYS, which blocks a busy server)."""
        for found in client.scan_iter(match=self.pattern(), count=count):
            yield found.decode() if isinstance(found, bytes) else found

    def count(self, client: redis.Redis) -> int:
        """How many keys this notebook has on the server right now (this learner's only)."""
        return sum(1 for _ in self.scan(client))

    def cleanup(self, client: redis.Redis, batch: int = 500) -> int:
        """Delete every key under this prefix, in batches; return how many were deleted."""
        deleted = 0
        while True:  # until a whole SCAN finds nothing: fakeredis 2.36 skips keys when some are deleted mid-scan
            pending: list[str] = []
            this_pass = 0
            for found in self.scan(client):
                pending.append(found)
                if len(pending) >= batch:
                    this_pass += int(client.delete(*pending))
                    pending.clear()
            if pending:
                this_pass += int(client.delete(*pending))
            deleted += this_pass
            if this_pass == 0:
                return deleted

    def __repr__(self) -> str:
        return f"KeySpace(prefix={self.prefix!r})"


def short_key(key: str) -> str:
    """``key`` without its project, notebook and (this learner's) namespace: 'rcp:03:ada:user:7' -> 'user:7'."""
    head = re.match(rf"^{PROJECT_PREFIX}:[^:]+:", key)
    if head is None:
        return key
    rest = key[head.end() :]
    learner = learner_namespace()
    return rest[len(learner) + 1 :] if rest.startswith(learner + ":") else rest
