"""Load the caching functions a notebook teaches, straight from its source, for the unit tests.

The strategies are the lesson, so they live in the notebook, not in helpers/. The tests run the very
code the learner reads: the top-level ``def``s, classes and UPPER_CASE constants of ``notebook_sources/NN_*.py``,
executed in a namespace that provides the notebook's setup names (``r``, ``keys``, ``db`` ...).
"""

from __future__ import annotations

import ast
import json
import secrets
import time
from pathlib import Path

import pytest
import redis

from helpers.core.keys import KeySpace
from helpers.harness.interleaving import interleave

SOURCES = Path(__file__).resolve().parents[1] / "notebook_sources"


def notebook_definitions(number: str, **setup: object) -> dict:
    """The functions and UPPER_CASE constants defined at the top level of notebook ``number``'s source."""
    (path,) = SOURCES.glob(f"{number}_*.py")
    tree = ast.parse(path.read_text())
    kept = [node for node in tree.body if _is_definition(node)]
    namespace: dict = {"json": json, "redis": redis, "secrets": secrets, "time": time, **setup}
    exec(compile(ast.Module(body=kept, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign):
        names = [n for t in node.targets for n in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return all(isinstance(n, ast.Name) and n.id.isupper() for n in names)
    return False


# -- fixtures shared by the notebook-03 tests (imported by name into each test module) -----------------
@pytest.fixture
def keys(client):
    """A key space of its own, empty before and after the test."""
    space = KeySpace("03-test")
    space.cleanup(client)
    yield space
    space.cleanup(client)


@pytest.fixture
def nb(client, keys, db):
    """Notebook 03's strategies, bound to this test's client, keys and database (a ``db`` fixture)."""
    return notebook_definitions("03", r=client, keys=keys, db=db, interleave=interleave)
