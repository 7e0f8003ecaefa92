"""Notebook 01's checkers: right answers pass on both backends, each typical mistake fails with its own hint."""

from __future__ import annotations

import json

import pytest

from helpers.core.keys import KeySpace
from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb01_ttl_expiry import check_sliding_read, check_update_city

KEYS = KeySpace("01", learner="ada")


@pytest.fixture
def db():
    return PrimaryDatabase(users=50, delay_ms=0)


# -- 01.1 · update the database, then delete the cached copy ----------------------------------------------
def city_updater(r, db, kind="right"):
    def update_city(user_id, city):
        key = KEYS.key("user", user_id)
        if kind == "delete-first":
            r.delete(key)
            db.update_user(user_id, city=city)
        elif kind == "in-place":  # the old exercise: edit the cached copy, keep its TTL
            db.update_user(user_id, city=city)
            cached = r.get(key)
            if cached is not None:
                profile = json.loads(cached)
                profile["city"] = city
                r.set(key, json.dumps(profile), keepttl=True, xx=True)
        elif kind == "write-through":
            r.set(key, json.dumps(db.update_user(user_id, city=city)), ex=60)
        elif kind == "database-only":
            db.update_user(user_id, city=city)
        elif kind == "cache-only":
            r.delete(key)
        else:
            db.update_user(user_id, city=city)
            r.delete(key)

    return update_city


class TestUpdateCity:
    def test_database_then_delete_passes(self, client, db):
        before = db.get_user(7)
        result = check_update_city(city_updater(client, db), cache=client, db=db, keys=KEYS)
        assert result.passed, repr(result)
        assert KEYS.count(client) == 0 and db.get_user(7)["city"] == before["city"]  # left as it was
        assert "update_user" not in db.__dict__  # the spy is gone

    @pytest.mark.parametrize(
        ("kind", "problem", "hint"),
        [
            ("in-place", "rewritten with the new city", "two concurrent updates"),
            ("write-through", "rewritten with the new city", "Delete the key"),
            ("database-only", "still says", "delete the cached copy"),
            ("delete-first", "deleted before the database was written", "Swap the two steps"),
            ("cache-only", "the database says city", "db.update_user(user_id, city=city)"),
        ],
    )
    def test_wrong_write_paths_fail_with_their_hint(self, client, db, kind, problem, hint):
        result = check_update_city(city_updater(client, db, kind), cache=client, db=db, keys=KEYS)
        assert not result.passed and problem in result.message and hint in result.hint, repr(result)
        assert KEYS.count(client) == 0

    def test_stub_fails_with_the_stub_hint(self, fake_client, db):
        def stub(user_id, city):
            raise NotImplementedError

        result = check_update_city(stub, cache=fake_client, db=db, keys=KEYS)
        assert not result.passed and "NotImplementedError" in result.message and result.hint
        assert "update_user" not in db.__dict__


# -- 01.2 · a sliding-TTL read with GETEX -----------------------------------------------------------------
def sliding_reader(r, db, kind="right"):
    def read_profile_sliding(user_id):
        key = KEYS.key("user", user_id)
        if kind == "fixed":
            cached = r.get(key)
        elif kind == "get-then-expire":
            cached = r.get(key)
            if cached is not None:
                r.expire(key, 60)
        elif kind == "persist":
            cached = r.getex(key, persist=True)
        else:
            cached = r.getex(key, ex=60)
        if cached is not None:
            return json.loads(cached)
        profile = db.get_user(user_id)
        if kind == "fill-without-ttl":
            r.set(key, json.dumps(profile))
        else:
            r.set(key, json.dumps(profile), ex=60)
        return profile

    return read_profile_sliding


class TestSlidingRead:
    def test_getex_passes(self, client, db):
        result = check_sliding_read(sliding_reader(client, db), cache=client, db=db, keys=KEYS)
        assert result.passed, repr(result)
        assert KEYS.count(client) == 0
        assert "execute_command" not in client.__dict__  # the recorder is gone

    @pytest.mark.parametrize(
        ("kind", "problem", "hint"),
        [
            ("fixed", "the TTL was not renewed", "r.getex(key, ex=SLIDING_TTL_S)"),
            ("get-then-expire", "['GET', 'EXPIRE']", "one command and one round trip"),
            ("persist", "has no TTL", "not persist=True"),
            ("fill-without-ttl", "expected 60 s", "ex=SLIDING_TTL_S"),
        ],
    )
    def test_wrong_sliding_reads_fail_with_their_hint(self, client, db, kind, problem, hint):
        result = check_sliding_read(sliding_reader(client, db, kind), cache=client, db=db, keys=KEYS)
        assert not result.passed and problem in result.message and hint in result.hint, repr(result)
        assert KEYS.count(client) == 0

    def test_stub_fails_and_leaves_the_client_unwrapped(self, fake_client, db):
        def stub(user_id):
            raise NotImplementedError

        result = check_sliding_read(stub, cache=fake_client, db=db, keys=KEYS)
        assert not result.passed and result.hint
        assert "execute_command" not in fake_client.__dict__
