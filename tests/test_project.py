"""Project-wide rules: nothing flushes a server, dependencies are ranges, helpers are documented and tested."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = sorted(p for p in (ROOT / "helpers").rglob("*.py") if p.name != "__init__.py")
SUBPACKAGES = sorted(p.parent.name for p in (ROOT / "helpers").glob("*/__init__.py"))
# What each subpackage may import from the others (the house rules in helpers/__init__.py).
MAY_IMPORT = {
    "core": set(),
    "sim": {"core"},
    "harness": {"core", "sim"},
    "labs": {"core", "sim", "harness"},
    "viz": {"core", "sim", "harness"},
    "exercises": {"core", "sim", "harness", "labs", "viz", "exercises"},
}
MAX_MODULE_LINES = 450
# A method call, a quoted command name or a redis-cli command; prose that names the commands is fine.
FLUSH = re.compile(r"(\.flush(all|db)\s*\(|[\"']flush(all|db)[\"']|redis-cli.*\bflush(all|db)\b)", re.IGNORECASE)
SYS_PATH_EDIT = re.compile(r"sys\.path\.(insert|append)\(")


def code_files() -> list[Path]:
    files = [p for folder in ("helpers", "tests", "tools", "notebook_sources") for p in (ROOT / folder).rglob("*.py")]
    files += list((ROOT / "notebooks").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb"))
    files += [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "docker-compose.yml"]
    return [p for p in files if p.exists()]


def test_nothing_flushes_a_server():
    offenders = []
    for path in code_files():
        text = path.read_text()
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code")
        if FLUSH.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"FLUSHALL/FLUSHDB found in {offenders}: delete by prefix with KeySpace.cleanup()"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_dependencies_are_tested_ranges_not_exact_pins(name):
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        spec = line.split(";", 1)[0]
        assert "==" not in spec, f"{name}: {line!r} pins one version; use a tested range"
        assert ">=" in spec and "<" in spec.replace(">=", ""), f"{name}: {line!r} needs a lower and an upper bound"


def test_requirements_install_the_helpers_editable():
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT / "helpers")))
def test_helpers_modules_are_documented(path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.name} needs a module docstring saying what it is for"
    for node in tree.body:
        nodes = [node] + (
            [n for n in node.body if isinstance(n, ast.FunctionDef)] if isinstance(node, ast.ClassDef) else []
        )
        for item in nodes:
            if not isinstance(item, (ast.FunctionDef, ast.ClassDef)) or item.name.startswith("_"):
                continue
            assert ast.get_docstring(item), f"{path.name}: {item.name} needs a one-line docstring"
            if isinstance(item, ast.FunctionDef):
                args = [a for a in item.args.args + item.args.kwonlyargs if a.arg not in ("self", "cls")]
                missing = [a.arg for a in args if a.annotation is None]
                assert not missing, f"{path.name}: {item.name} lacks type hints for {missing}"
                assert item.returns is not None or item.name == "__init__", (
                    f"{path.name}: {item.name} lacks a return type"
                )


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT / "helpers")))
def test_every_helpers_module_has_its_tests(path):
    mirror = ROOT / "tests" / path.parent.relative_to(ROOT / "helpers") / f"test_{path.stem}.py"
    assert mirror.exists(), f"{mirror.relative_to(ROOT)} is missing: tests/ mirrors helpers/"


def test_helpers_are_subpackages_with_house_rules():
    assert not list((ROOT / "helpers").glob("[!_]*.py")), "every helpers module lives in a subpackage"
    assert sorted(MAY_IMPORT) == SUBPACKAGES, f"subpackages {SUBPACKAGES} and their import rules must match"
    for name in SUBPACKAGES:
        doc = ast.get_docstring(ast.parse((ROOT / "helpers" / name / "__init__.py").read_text())) or ""
        assert "May import:" in doc, f"helpers/{name}/__init__.py must say what lives there and what it may import"


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT / "helpers")))
def test_helpers_modules_import_only_what_their_subpackage_may(path):
    own = path.parent.name
    allowed = MAY_IMPORT[own] | {own}
    for node in ast.walk(ast.parse(path.read_text())):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "helpers" and len(parts) > 1:
                assert parts[1] in allowed, (
                    f"helpers/{own}/{path.name} imports {module}; {own} may import {sorted(allowed)}"
                )


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT / "helpers")))
def test_helpers_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines; split it by concern (at most {MAX_MODULE_LINES})"


def test_no_sys_path_hacks():
    for path in code_files():
        if path.suffix in (".py", ".ipynb"):
            assert not SYS_PATH_EDIT.search(path.read_text()), f"{path}: install the package instead (-e .)"
