"""The notebooks' policy: built from their sources, stored from one clean run, structured alike, honest tags.

What nbval cannot see is checked here: kernelspec, execution order, saved widget state, machine
paths, and that every cell excluded from output comparison says why and asserts its claim.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from build_notebooks import NAV_MARK, build
from notebook_series import KERNELSPEC, SOLUTIONS, notebook_paths, source_paths

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebook_paths()
ALLOWED_TAGS = {"setup", "exercise", "check", "verify", "navigation", "nbval-ignore-output", "raises-exception"}
REASON = re.compile(r"^# Output varies: .{10,}", re.MULTILINE)
MACHINE_PATH = re.compile(r"(/work/|/tmp/[A-Za-z0-9_.-]+/|/root/|/home/[a-z]+/|/Users/[A-Za-z]+/|[A-Z]:\\\\Users)")
REQUIRED_HEADINGS = ["## Setup", "## Your turn", "## Summary", "## Further reading", "## Cleanup"]


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def test_every_source_has_a_notebook_and_back():
    assert [p.stem for p in source_paths()] == [p.stem for p in NOTEBOOKS]
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestNotebook:
    def test_matches_its_source(self, path):
        """The committed notebook is what tools/build_notebooks.py makes of its source (make notebooks)."""
        built, solutions = build(ROOT / "notebook_sources" / f"{path.stem}.py")
        stored = load(path)
        as_cells = [(c.id, c.cell_type, c.source, tags(c)) for c in stored.cells]
        assert as_cells == [(c.id, c.cell_type, c.source, tags(c)) for c in built.cells], (
            f"{path.name} differs from notebook_sources/{path.stem}.py: "
            f"edit the source, then `make execute NB={path.stem[:2]}` (`make notebooks` if only markdown or ids moved)"
        )
        solution_file = SOLUTIONS / f"{path.stem}.py"
        assert solution_file.read_text() == solutions, f"run `make notebooks` to regenerate {solution_file.name}"

    def test_kernelspec_and_no_widget_state(self, path):
        nb = load(path)
        assert nb.metadata["kernelspec"] == KERNELSPEC, "run `make execute` to store the series' kernelspec"
        header = jupytext.read(ROOT / "notebook_sources" / f"{path.stem}.py").metadata.get("kernelspec")
        assert header in (None, KERNELSPEC), "the source's jupytext header names another kernel than the series'"
        assert "widgets" not in nb.metadata, "saved widget state: re-run with `make execute`"
        for cell in nb.cells:
            assert "execution" not in cell.metadata, "execution timing metadata: re-run with `make execute`"

    def test_stored_from_one_clean_run(self, path):
        counts = [cell.execution_count for cell in code_cells(load(path))]
        assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}: run `make execute`"

    def test_outputs_hold_no_errors_or_machine_paths(self, path):
        nb = load(path)
        for index, cell in enumerate(code_cells(nb)):
            for output in cell.outputs:
                if output.output_type == "error":
                    assert "raises-exception" in tags(cell), f"code cell {index} stored an error"
                text = json.dumps(output)
                found = MACHINE_PATH.search(text)
                assert not found, f"code cell {index} shows a machine path: {found.group(0)}"
        assert path.stat().st_size < 1_500_000, "keep figures small: the notebook is over 1.5 MB"

    def test_tags_are_known_and_ignored_outputs_are_justified(self, path):
        cells = code_cells(load(path))
        for index, cell in enumerate(cells):
            unknown = set(tags(cell)) - ALLOWED_TAGS
            assert not unknown, f"code cell {index}: unknown tags {unknown} (nbval-skip is not allowed)"
            if "nbval-ignore-output" in tags(cell):
                reason = cell.metadata.get("output_varies", "")
                assert REASON.search(cell.source) or len(reason) >= 10, (
                    f"code cell {index} is excluded from comparison without an output_varies reason in its metadata"
                )
                following = cells[index + 1].source if index + 1 < len(cells) else ""
                assert "assert" in cell.source or "assert" in following, (
                    f"code cell {index} is excluded from comparison, so it (or the next cell) must assert its claim"
                )

    def test_code_parses_without_magics_in_setup(self, path):
        for cell in code_cells(load(path)):
            if "setup" in tags(cell) or "exercise" in tags(cell) or "check" in tags(cell):
                ast.parse(cell.source)  # these run in-process in tests/test_exercises.py

    def test_structure(self, path):
        nb = load(path)
        first = nb.cells[0]
        assert first.cell_type == "markdown" and first.source.startswith(f"# {path.stem[:2]} · ")
        assert "What you'll learn" in first.source and "Time to learn" in first.source
        assert "What you'll need" in first.source and "What you'll build" in first.source
        objectives = re.findall(r"^\d\. ", first.source, re.MULTILINE)
        assert 3 <= len(objectives) <= 5, f"{len(objectives)} learning objectives; aim for 3 to 5"
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for heading in REQUIRED_HEADINGS:
            assert re.search(rf"^{re.escape(heading)}", markdown, re.MULTILINE), f"missing section {heading!r}"
        assert NAV_MARK in nb.cells[1].source and NAV_MARK in nb.cells[-1].source
        cleanup_at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Cleanup" in c.source)
        assert any(".cleanup(" in c.source for c in nb.cells[cleanup_at:] if c.cell_type == "code")

    def test_uses_its_own_key_prefix(self, path):
        sources = "\n".join(c.source for c in code_cells(load(path)))
        assert f'KeySpace("{path.stem[:2]}")' in sources
        assert not re.search(r'KeySpace\("(?!' + path.stem[:2] + r'")', sources), "one key prefix per notebook"

    def test_exercise_stub_is_stored_unsolved(self, path):
        """The stored run shows the learner's starting point: each check reports 'not solved yet'."""
        checks = [c for c in code_cells(load(path)) if "check" in tags(c)]
        assert checks, "every notebook has at least one Your-turn exercise with a check cell"
        for cell in checks:
            text = "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in cell.outputs)
            assert "not solved yet" in text and "Hint:" in text


def test_the_house_map_names_what_each_notebook_imports():
    """helpers/__init__.py says which modules each notebook uses (besides core, viz.plots and its checkers)."""
    import helpers

    text = " ".join(helpers.__doc__.split("Which notebook uses what", 1)[1].split())
    listed = {part.strip()[:2]: set(re.findall(r"``([a-z_.]+)``", part)) for part in text.split(":", 1)[1].split(";")}
    for path in source_paths():
        imported = set(re.findall(r"^from helpers\.([a-z_]+\.[a-z_0-9]+) import", path.read_text(), re.MULTILINE))
        used = {m for m in imported if not m.startswith(("core.", "exercises.")) and m != "viz.plots"}
        assert listed.get(path.name[:2]) == used, f"helpers/__init__.py's map for notebook {path.name[:2]}"
