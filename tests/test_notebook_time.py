"""Each notebook states the time the written method gives (tools/notebook_time.py), so it can never drift."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_series import notebook_paths
from notebook_time import (
    LearningTime,
    ceil5,
    learning_time,
    stated_time,
    unlabelled_numbered_headings,
)
from test_notebooks import NOT_YET_CONVERTED

NOTEBOOKS = notebook_paths()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_stated_time_is_the_computed_one(path):
    if path.stem[:2] in NOT_YET_CONVERTED:
        pytest.skip(f"notebook {path.stem[:2]} is listed in NOT_YET_CONVERTED (tests/test_notebooks.py)")
    nb = nbformat.read(path, as_version=4)
    computed = learning_time(nb)
    assert stated_time(nb) == (computed.total, computed.core), (
        f"the title cell must say: {computed.statement()} "
        f"({computed.words} words, {computed.code_cells} code cells, {computed.exercise_minutes} exercise min)"
    )


def test_the_readme_table_gives_both_times(path_list=NOTEBOOKS):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for path in path_list:
        number = path.stem[:2]
        if number in NOT_YET_CONVERTED:
            continue
        computed = learning_time(nbformat.read(path, as_version=4))
        row = next(line for line in readme.splitlines() if line.startswith(f"| {number} |"))
        assert row.endswith(f"| {computed.total} min ({computed.core}) |"), f"README row for {number}: {row}"


def notebook(*cells: tuple[str, str, list[str]]) -> nbformat.NotebookNode:
    made = []
    for kind, source, tags in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        made.append(cell)
    return nbformat.v4.new_notebook(cells=made)


WORDS_300 = " ".join(["word"] * 300)  # two minutes of reading


def test_the_method_counts_words_cells_and_exercise_minutes_and_splits_the_core_path():
    nb = notebook(
        ("markdown", "# 07 · Demo\n\n**Time to learn**: about 25 min (core path: about 15 min).", []),
        ("markdown", "nav words that never count " * 50, ["navigation"]),
        ("code", "x = 1", ["setup"]),
        ("markdown", f"## 1. Basics (core)\n{WORDS_300}", []),
        ("code", "x", []),
        ("code", "assert x\nprint('Checked: x is set, as promised.')", ["verify"]),
        ("markdown", f"## 2. More (going deeper)\n{WORDS_300}\n### Explore it yourself\n{WORDS_300}", []),
        ("code", "y = 2", []),
        ("markdown", "## Your turn\n### Exercise 07.1: Write it (core, about 5 min)", []),
        ("code", "def f(): ...", ["exercise"]),
        ("code", "check(f)", ["check"]),
        ("markdown", "### Exercise 07.2: Harder (going deeper, about 10 min)", []),
        ("markdown", "## Summary\nDone.", []),
        ("code", "keys.cleanup(r)", []),
    )
    found = learning_time(nb)
    assert (found.code_cells, found.exercise_minutes) == (4, 15)
    # total: ~6.3 min of words + 4 cells + 15 exercise min = 25.3 -> 30; core: ~2.3 + 3 + 5 -> 15
    assert (found.total, found.core) == (30, 15), found
    assert found.words > 900
    assert stated_time(nb) == (25, 15)
    assert found.statement() == "**Time to learn**: about 30 min (core path: about 15 min)."


def test_rounding_and_the_stated_forms():
    assert [ceil5(m) for m in (0, 0.1, 5, 5.01, 14.9)] == [5, 5, 5, 10, 15]
    old = notebook(("markdown", "# 00 · x\n**Time to learn:** 15 minutes.", []))
    assert stated_time(old) is None
    both = notebook(("markdown", "# 00 · x\n**Time to learn:** about 20 min (core path: about 10 min).", []))
    assert stated_time(both) == (20, 10)
    assert isinstance(learning_time(both), LearningTime)


def test_numbered_headings_need_a_label_unless_their_subsections_carry_it():
    nb = notebook(
        ("markdown", "## 1. Labelled (core)\n### Explore it yourself", []),
        ("markdown", "## 2. Parent\n### 2.1 First (core)\n### 2.2 Second (going deeper)", []),
        ("markdown", "## 3. Parent with a bare child\n### 3.1 First (core)\n### 3.2 Second", []),
        ("markdown", "## 4. Bare\n## Your turn\n## Summary", []),
    )
    assert unlabelled_numbered_headings(nb) == ["3. Parent with a bare child", "3.2 Second", "4. Bare"]
