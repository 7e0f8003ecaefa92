"""KeySpace: one prefix per notebook and learner; cleanup by SCAN touches that prefix only."""

from __future__ import annotations

import getpass
import socket

import pytest

from helpers.core import keys as keys_module
from helpers.core.errors import InvalidArgument
from helpers.core.keys import LEARNER_ENV, KeySpace, learner_namespace, short_key


def test_key_names():
    keys = KeySpace("00", learner="ada")
    assert keys.prefix == "rcp:00:ada:" and keys.notebook_prefix == "rcp:00:"
    assert keys.key("user", 42) == "rcp:00:ada:user:42"
    assert repr(keys) == "KeySpace(prefix='rcp:00:ada:')"


def test_the_learner_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(LEARNER_ENV, "grace")
    assert KeySpace("03").key("user", 7) == "rcp:03:grace:user:7"


def test_the_default_learner_is_the_user_and_a_host_stable_suffix(monkeypatch):
    monkeypatch.delenv(LEARNER_ENV, raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "jovyan")
    monkeypatch.setattr(socket, "gethostname", lambda: "container-a")
    first = learner_namespace()
    assert first.startswith("jovyan-") and len(first) == len("jovyan-") + 4
    assert learner_namespace() == first  # stable: a rerun's cleanup finds a crashed kernel's keys
    monkeypatch.setattr(socket, "gethostname", lambda: "container-b")
    assert learner_namespace() != first  # same account name, another container: another namespace


def test_a_user_name_with_unsafe_characters_is_cleaned(monkeypatch):
    monkeypatch.delenv(LEARNER_ENV, raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "Ada Lovelace*")
    assert learner_namespace().startswith("AdaLovelace-")
    KeySpace("00")  # accepted


def test_no_user_name_still_gives_a_namespace(monkeypatch):
    def unnamed() -> str:
        raise KeyError("uid 1234 has no name")

    monkeypatch.delenv(LEARNER_ENV, raising=False)
    monkeypatch.setattr(getpass, "getuser", unnamed)
    assert keys_module._SAFE_NAME.match(learner_namespace())


@pytest.mark.parametrize("value", ["a b", "x*", "ada:1", "x" * 65])
def test_an_unsafe_learner_is_refused(monkeypatch, value):
    monkeypatch.setenv(LEARNER_ENV, value)
    with pytest.raises(InvalidArgument, match=LEARNER_ENV):
        KeySpace("00")


def test_short_key_drops_project_notebook_and_learner(monkeypatch):
    monkeypatch.setenv(LEARNER_ENV, "ada")
    assert short_key("rcp:03:ada:user:7") == "user:7"
    assert short_key("rcp:03:user:7") == "user:7"  # a key without a learner part
    assert short_key("other:key") == "other:key"


@pytest.mark.parametrize("name", ["", "a b", "x*", "0:1", None, 3])
def test_unsafe_names_are_refused(name):
    with pytest.raises(InvalidArgument, match="KeySpace name must be"):
        KeySpace(name)


def test_key_needs_a_part():
    with pytest.raises(InvalidArgument, match="at least one part"):
        KeySpace("00").key()


def test_cleanup_deletes_only_its_prefix(client):
    mine, neighbour = KeySpace("t1"), KeySpace("t10")  # "rcp:t1:" must not match "rcp:t10:..."
    classmate, prefix_mate = KeySpace("t1", learner="bob"), KeySpace("t1", learner=mine.learner + "x")
    for i in range(1203):  # more than one SCAN page and more than one delete batch
        client.set(mine.key("k", i), i)
    others = [neighbour, classmate, prefix_mate]  # another notebook; another learner; a learner name extending ours
    for other in others:
        client.set(other.key("k"), "keep")
    client.set("unrelated", "keep")
    try:
        assert mine.count(client) == 1203
        assert mine.cleanup(client) == 1203
        assert mine.count(client) == 0
        assert all(client.get(other.key("k")) == "keep" for other in others) and client.get("unrelated") == "keep"
        assert mine.cleanup(client) == 0
    finally:
        for other in others:
            other.cleanup(client)
        client.delete("unrelated")


def test_pattern_escapes_glob_characters():
    assert KeySpace("a.b-c_d", learner="x").pattern() == "rcp:a.b-c_d:x:*"
