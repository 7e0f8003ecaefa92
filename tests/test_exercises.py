"""Solutions are the source of truth: each one passes its checker, and each learner stub fails it.

Every exercise runs in-process after its notebook's `setup` cells, on fakeredis and on a real
redis-server (the two backends a learner may use).
"""

from __future__ import annotations

import ast
import contextlib
import io

import pytest
from build_notebooks import exercises_of, source_paths

from helpers.exercises.framework import CheckResult

EXERCISES = [(path, exercise) for path in source_paths() for exercise in exercises_of(path)]


def run_cells(sources: list[str], namespace: dict) -> object:
    """Execute cell sources in ``namespace`` like a notebook; return the value of the last expression."""
    value = None
    for source in sources:
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    return value


def check(exercise, code: str, monkeypatch, redis_url: str) -> CheckResult:
    monkeypatch.setenv("REDIS_URL", redis_url) if redis_url else monkeypatch.delenv("REDIS_URL", raising=False)
    namespace: dict = {"__name__": "__exercise__"}
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_cells([*exercise.setup, code, exercise.check], namespace)
    assert isinstance(result, CheckResult), "a check cell must end with the checker call"
    cleanup = [v for v in namespace.values() if type(v).__name__ == "KeySpace"]
    for keyspace in cleanup:
        keyspace.cleanup(namespace["r"])
    return result


@pytest.fixture(params=["fakeredis", "redis-server"])
def redis_url(request) -> str:
    return "" if request.param == "fakeredis" else request.getfixturevalue("sandbox").url


@pytest.mark.parametrize(("path", "exercise"), EXERCISES, ids=[e.exercise_id for _, e in EXERCISES])
def test_solution_passes(path, exercise, monkeypatch, redis_url):
    result = check(exercise, exercise.solution, monkeypatch, redis_url)
    assert result.passed, repr(result)


@pytest.mark.parametrize(("path", "exercise"), EXERCISES, ids=[e.exercise_id for _, e in EXERCISES])
def test_stub_fails_with_a_hint(path, exercise, monkeypatch, redis_url):
    result = check(exercise, exercise.stub, monkeypatch, redis_url)
    assert not result.passed
    assert result.hint, "a failed check must say how to get closer"


def test_there_are_exercises():
    assert EXERCISES
