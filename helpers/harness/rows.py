"""How the race replay names what it sees: user rows (a short label, or read back from the cache), and
commands and replies as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

import redis

from helpers.core.keys import short_key

_HEX_TOKEN = re.compile(r"^[0-9a-f]{16,}$")


def row_label(row: Mapping) -> str:
    """A short name for a user row: its city and version, e.g. 'Lisbon v1'."""
    return f"{row.get('city', '?')} v{row.get('version', '?')}"


def cached_row(client: redis.Redis, key: str) -> dict | None:
    """The row cached under ``key``: a JSON string, or a hash whose ``row`` field is JSON (None if absent)."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return as_row(client.get(key))
    if kind == "hash":
        return as_row(client.hget(key, "row"))
    return None


def command_text(args: Sequence, label: Callable[[dict], str]) -> str:
    """'GET user:42', 'SET user:42 Lisbon v1 PX 60000', 'EVALSHA <script> user:42 2 Osaka v2 60000'."""
    name = str(args[0]).upper()
    words = [name]
    rest = list(args[1:])
    if name in {"EVALSHA", "EVAL"} and len(rest) >= 2:
        rest = ["<script>", *rest[2:]]  # the SHA and the key count say nothing to a reader
    for arg in rest:
        words.append(arg_text(arg, label))
    return " ".join(words)


def arg_text(arg: object, label: Callable[[dict], str]) -> str:
    """One argument as a reader wants it: a row by its label, a token as <token>, a key without its prefix."""
    if isinstance(arg, bytes):
        arg = arg.decode(errors="replace")
    text = str(arg)
    row = as_row(text)
    if row is not None:
        return label(row)
    if _HEX_TOKEN.match(text):
        return "<token>"
    text = short_key(text)
    return text if len(text) <= 24 else text[:21] + "..."


def reply_renderer(args: Sequence, label: Callable[[dict], str]) -> Callable[[object], str]:
    """A function that names the reply to the command ``args`` ('miss', '1 deleted', 'Lisbon v1', ...)."""
    name = str(args[0]).upper()

    def render(reply: object) -> str:
        if reply is None:
            return "miss" if name in {"GET", "HGET", "HGETALL", "MGET"} else "nil"
        if name == "DEL":
            return f"{reply} deleted" if reply else "0 (nothing to delete)"
        if isinstance(reply, (list, tuple)):
            return "[" + ", ".join(render(item) if item is not None else "nil" for item in reply) + "]"
        if isinstance(reply, bool):
            return "OK" if reply else "not done"
        return arg_text(reply, label)

    return render


def as_row(value: object) -> dict | None:
    """``value`` parsed as a versioned user row (JSON with a 'version' field), or None if it is not one."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        row = json.loads(value)
    except ValueError:
        return None
    return row if isinstance(row, dict) and "version" in row else None
