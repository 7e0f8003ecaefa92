"""KeySpace: one prefix per notebook; cleanup by SCAN touches that prefix only."""

from __future__ import annotations

import pytest

from helpers.core.errors import InvalidArgument
from helpers.core.keys import KeySpace


def test_key_names():
    keys = KeySpace("00")
    assert keys.prefix == "rcp:00:"
    assert keys.key("user", 42) == "rcp:00:user:42"
    assert repr(keys) == "KeySpace(prefix='rcp:00:')"


@pytest.mark.parametrize("name", ["", "a b", "x*", "0:1", None, 3])
def test_unsafe_names_are_refused(name):
    with pytest.raises(InvalidArgument, match="KeySpace name must be"):
        KeySpace(name)


def test_key_needs_a_part():
    with pytest.raises(InvalidArgument, match="at least one part"):
        KeySpace("00").key()


def test_cleanup_deletes_only_its_prefix(client):
    mine, neighbour = KeySpace("t1"), KeySpace("t10")  # "rcp:t1:" must not match "rcp:t10:..."
    for i in range(1203):  # more than one SCAN page and more than one delete batch
        client.set(mine.key("k", i), i)
    client.set(neighbour.key("k"), "keep")
    client.set("unrelated", "keep")
    try:
        assert mine.count(client) == 1203
        assert mine.cleanup(client) == 1203
        assert mine.count(client) == 0
        assert client.get(neighbour.key("k")) == "keep" and client.get("unrelated") == "keep"
        assert mine.cleanup(client) == 0
    finally:
        neighbour.cleanup(client)
        client.delete("unrelated")


def test_pattern_escapes_glob_characters():
    assert KeySpace("a.b-c_d").pattern() == "rcp:a.b-c_d:*"
