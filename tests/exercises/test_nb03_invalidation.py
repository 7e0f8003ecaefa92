"""Notebook 03's checker passes the solution and explains each known-wrong one."""

from __future__ import annotations

import json

import pytest

from helpers.core.primary_db import PrimaryDatabase
from helpers.exercises.nb03_invalidation import check_rename_user, check_staged_race

pytest_plugins = ["notebook_code"]  # the fixtures `keys` and `nb`


@pytest.fixture
def db():
    return PrimaryDatabase(users=300, delay_ms=1)


def test_checker_passes_the_solution(nb, client, db, keys):
    assert check_rename_user(nb["rename_user"], cache=client, db=db, keys=keys).passed


def delete_first(keys):
    def rename(cache, db, user_id, name):
        cache.delete(keys.key("user", user_id), keys.key("name", user_id))
        return db.update_user(user_id, name=name)

    return rename


def only_the_row(keys):
    def rename(cache, db, user_id, name):
        row = db.update_user(user_id, name=name)
        cache.delete(keys.key("user", user_id))
        return row

    return rename


def writes_through(keys):
    def rename(cache, db, user_id, name):
        row = db.update_user(user_id, name=name)
        cache.set(keys.key("user", user_id), json.dumps(row))
        cache.set(keys.key("name", user_id), name)
        return row

    return rename


@pytest.mark.parametrize(
    ("make", "hint"),
    [(delete_first, "Update the database first"), (only_the_row, "Delete both"), (writes_through, "instead of SET")],
)
def test_checker_explains_each_mistake(make, hint, client, db, keys):
    result = check_rename_user(make(keys), cache=client, db=db, keys=keys)
    assert not result.passed and hint in result.hint


def test_checker_catches_a_function_that_ignores_its_arguments(client, db, keys):
    other = PrimaryDatabase(users=300, delay_ms=0)

    def global_everything(cache, db_, user_id, name):
        row = db.update_user(user_id, name=name)
        client.delete(keys.key("user", user_id), keys.key("name", user_id))
        other.update_user(user_id, name=name)
        return row

    result = check_rename_user(global_everything, cache=client, db=db, keys=keys)
    assert not result.passed and "arguments" in result.hint


# -- 03.2: the staged race ---------------------------------------------------------------------------
def test_the_staged_race_passes_the_solution(client, db, keys):
    assert check_staged_race(lambda: ["reader", "reader", "writer*", "reader*"], cache=client, db=db, keys=keys).passed


@pytest.mark.parametrize(
    ("schedule", "problem", "hint"),
    [
        (["reader*", "writer*"], "ended consistent", "read the database before the writer's UPDATE"),
        (["writer*", "reader*"], "ended consistent", "read the database before the writer's UPDATE"),
        (["reader", "writer*", "reader*"], "ended consistent", "store what it read after the writer's SET"),
        (["reader"] * 4 + ["writer*"], "does not fit", "3 operations"),
        (["reader", "cleaner*"], "not in this race", "The actors are"),
        ("reader, writer", "not a list", "Return a list"),
    ],
)
def test_the_staged_race_explains_wrong_schedules(client, db, keys, schedule, problem, hint):
    result = check_staged_race(lambda: schedule, cache=client, db=db, keys=keys)
    assert not result.passed and problem in result.message and hint in result.hint
