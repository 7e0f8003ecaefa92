"""``EXPIRE key seconds NX|XX|GT|LT`` on any backend: native on Redis 7.0+ and fakeredis, a Lua script on Redis 6.2.

The options decide whether the new TTL is applied (Redis 7.0 semantics; a key without a TTL counts as
never expiring, so GT never applies to it and LT always does):

- ``nx``: only if the key has no TTL;        ``xx``: only if it has one;
- ``gt``: only if the new expiry is later;   ``lt``: only if the new expiry is sooner.

Redis 6.2 rejects the options, so there the same rule runs as a Lua script (atomic, like the command).
"""

from __future__ import annotations

import redis

from helpers.core.capabilities import capabilities
from helpers.core.errors import InvalidArgument, require_whole

OPTIONS = ("nx", "xx", "gt", "lt")

# KEYS[1] the key; ARGV[1] the option; ARGV[2] the new TTL in milliseconds. Returns 1 if applied, else 0.
EXPIRE_WITH_OPTION_LUA = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
local option, new_ttl = ARGV[1], tonumber(ARGV[2])
local has_ttl = ttl >= 0
if option == 'nx' and has_ttl then return 0 end
if option == 'xx' and not has_ttl then return 0 end
if option == 'gt' and (not has_ttl or new_ttl <= ttl) then return 0 end
if option == 'lt' and has_ttl and new_ttl >= ttl then return 0 end
return redis.call('PEXPIRE', KEYS[1], new_ttl)
"""


def expire_with_option(client: redis.Redis, key: str, seconds: int, option: str, *, native: bool | None = None) -> bool:
    """EXPIRE ``key`` ``seconds`` with one of nx/xx/gt/lt; True if the TTL was set. ``native=False`` forces Lua."""
    option = option.lower() if isinstance(option, str) else option
    if option not in OPTIONS:
        raise InvalidArgument(f"option must be one of {', '.join(OPTIONS)} (as in EXPIRE key 60 GT), got {option!r}.")
    seconds = require_whole("seconds", seconds, minimum=1, unit="of seconds")
    if native is None:
        native = capabilities(client).expire_options
    if native:
        return bool(client.expire(key, seconds, **{option: True}))
    return bool(client.eval(EXPIRE_WITH_OPTION_LUA, 1, key, option, seconds * 1000))
