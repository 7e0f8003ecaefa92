"""Solutions are the source of truth: each one passes its checker, and each learner stub fails it.

Every exercise runs in-process after its notebook's `setup` cells, on fakeredis and on a real
redis-server (the two backends a learner may use). Each check cell calls its own notebook's checker:
exercise NN.k's cell calls a ``@checker("NN.k")`` function defined in ``helpers/exercises/nbNN_*.py``,
and no two checkers share an exercise id.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
from build_notebooks import exercises_of
from notebook_series import ROOT, source_paths

from helpers.exercises.framework import CheckResult

EXERCISES = [(path, exercise) for path in source_paths() for exercise in exercises_of(path)]
EXERCISES_DIR = ROOT / "helpers" / "exercises"


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
    assert result.exercise == exercise.exercise_id, "the check cell calls another exercise's checker"


@pytest.mark.parametrize(("path", "exercise"), EXERCISES, ids=[e.exercise_id for _, e in EXERCISES])
def test_stub_fails_with_a_hint(path, exercise, monkeypatch, redis_url):
    result = check(exercise, exercise.stub, monkeypatch, redis_url)
    assert not result.passed
    assert result.exercise == exercise.exercise_id, "the check cell calls another exercise's checker"
    assert result.hint, "a failed check must say how to get closer"


def test_there_are_exercises():
    assert EXERCISES


# -- which checker each check cell calls, read from the sources (no import, so fixtures can be fake) --------
def checkers_defined(folder: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """``{module: {function: exercise id}}`` for the ``@checker("...")`` functions of ``folder/nbNN_*.py``."""
    defined, problems = {}, []
    for path in sorted(folder.glob("nb[0-9][0-9]_*.py")):
        functions = defined.setdefault(path.stem, {})
        for node in ast.parse(path.read_text()).body:
            for decorator in getattr(node, "decorator_list", []):
                func = getattr(decorator, "func", None)
                if getattr(func, "id", getattr(func, "attr", None)) != "checker":
                    continue
                argument = decorator.args[0] if decorator.args else None
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    functions[node.name] = argument.value
                else:
                    problems.append(f"{path.stem}.{node.name}: the @checker id must be a string literal")
    return defined, problems


def checker_imports(setup_sources: list[str]) -> dict[str, tuple[str, str]]:
    """``{local name: (module, name)}`` for each ``from helpers.exercises.<module> import ...`` in the setup."""
    imported = {}
    for source in setup_sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers.exercises."):
                module = node.module.removeprefix("helpers.exercises.")
                imported.update({alias.asname or alias.name: (module, alias.name) for alias in node.names})
    return imported


def checker_called(check_source: str) -> str | None:
    """The name of the function the check cell's last expression calls, if it is a plain call."""
    body = ast.parse(check_source).body
    last = body[-1] if body else None
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name):
        return last.value.func.id
    return None


def checker_problems(sources: list[Path], folder: Path) -> list[str]:
    """What is wrong between the notebooks' check cells and the checkers in ``folder`` (empty: all is well)."""
    defined, problems = checkers_defined(folder)
    owners = defaultdict(list)
    for module, functions in defined.items():
        for function, exercise_id in functions.items():
            owners[exercise_id].append(f"{module}.{function}")
            if not exercise_id.startswith(f"{module[2:4]}."):
                problems.append(f"{module}.{function} is @checker({exercise_id!r}) in notebook {module[2:4]}'s module")
    problems += [f"exercise id {i!r} is used by {' and '.join(o)}" for i, o in owners.items() if len(o) > 1]
    for path in sources:
        number = path.name[:2]
        for exercise in exercises_of(path):
            where = f"{path.name}, exercise {exercise.exercise_id}"
            name = checker_called(exercise.check)
            imported = checker_imports(exercise.setup)
            if name is None:
                problems.append(f"{where}: the check cell does not end with a call of a checker")
                continue
            if name not in imported:
                problems.append(f"{where}: {name} is not imported from helpers.exercises in a setup cell")
                continue
            module, function = imported[name]
            found = defined.get(module, {}).get(function)
            if not re.fullmatch(rf"nb{number}_\w+", module):
                problems.append(f"{where}: {name} comes from helpers.exercises.{module}, not nb{number}_*")
            elif found is None:
                problems.append(f"{where}: helpers.exercises.{module} has no @checker function {function}")
            elif found != exercise.exercise_id:
                problems.append(f"{where}: {name} is @checker({found!r}), not {exercise.exercise_id!r}")
    return problems


def test_each_check_cell_calls_its_own_notebooks_checker():
    defined, _ = checkers_defined(EXERCISES_DIR)
    assert sorted(m[2:4] for m in defined) == [p.name[:2] for p in source_paths()], "one nbNN_* module per notebook"
    problems = checker_problems(source_paths(), EXERCISES_DIR)
    assert not problems, "\n".join(problems)


def fake_series(tmp_path: Path, modules: dict[str, str], setup: str, check: str) -> Path:
    """A one-exercise notebook source 07_demo.py and checker modules under ``tmp_path``; returns the source."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    for name, checker_id in modules.items():
        (folder / f"{name}.py").write_text(f'@checker("{checker_id}")\ndef check_demo(f):\n    return "ok"\n')
    cells = [
        "# %% [markdown]\n# # 07 · Demo",
        f'# %% tags=["setup"]\n{setup}',
        '# %% tags=["exercise"]\ndef f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION',
        f'# %% tags=["check"]\n{check}',
    ]
    source = tmp_path / "07_demo.py"
    source.write_text("\n\n".join(cells) + "\n")
    return source


IMPORT = "from helpers.exercises.nb07_demo import check_demo"


@pytest.mark.parametrize(
    ("modules", "setup", "check", "problem"),
    [
        ({"nb07_demo": "07.1"}, IMPORT, "check_demo(f)", None),
        ({"nb07_demo": "07.2"}, IMPORT, "check_demo(f)", "check_demo is @checker('07.2'), not '07.1'"),
        ({"nb07_demo": "06.1"}, IMPORT, "check_demo(f)", "is @checker('06.1') in notebook 07's module"),
        ({"nb06_other": "07.1"}, IMPORT.replace("nb07_demo", "nb06_other"), "check_demo(f)", "not nb07_*"),
        ({"nb07_demo": "07.1", "nb07_more": "07.1"}, IMPORT, "check_demo(f)", "'07.1' is used by nb07_demo"),
        ({"nb07_demo": "07.1"}, "import math", "check_demo(f)", "not imported from helpers.exercises"),
        ({"nb07_demo": "07.1"}, IMPORT, "result = check_demo(f)", "does not end with a call"),
        ({"nb07_demo": "07.1"}, IMPORT.replace("import check_demo", "import other"), "other(f)", "has no @checker"),
    ],
    ids=["ok", "other-exercise", "other-notebook", "other-module", "duplicate", "no-import", "no-call", "missing"],
)
def test_a_mismatch_between_check_cell_and_checker_is_found(tmp_path, modules, setup, check, problem):
    source = fake_series(tmp_path, modules, setup, check)
    problems = checker_problems([source], tmp_path / "exercises")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in line for line in problems), problems


def test_a_checker_id_that_is_not_a_literal_is_reported(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "nb07_demo.py").write_text(
        textwrap.dedent("""\
        ID = "07.1"

        @checker(ID)
        def check_demo(f):
            return "ok"
        """)
    )
    _, problems = checkers_defined(folder)
    assert problems == ["nb07_demo.check_demo: the @checker id must be a string literal"]
