"""tools/build_notebooks.py: stubs from solutions, navigation, and outputs kept only when code is unchanged."""

from __future__ import annotations

import textwrap

import nbformat
import pytest
from build_notebooks import NAV_MARK, build, exercises_of, keep_outputs, navigation, solution_of, stub_of

EXERCISE = textwrap.dedent(
    """\
    LIMIT = 3

    def f(x):
        \"\"\"Doc.\"\"\"
        # BEGIN SOLUTION
        y = x + 1
        return y
        # END SOLUTION"""
)


def test_stub_replaces_the_solution_block_at_its_indentation():
    stub = stub_of(EXERCISE, "07.1")
    assert "y = x + 1" not in stub and "BEGIN SOLUTION" not in stub
    assert '    raise NotImplementedError("Exercise 07.1: your turn")' in stub
    assert stub.startswith("LIMIT = 3") and '"""Doc."""' in stub
    namespace: dict = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


def test_solution_keeps_the_code_without_markers():
    solution = solution_of(EXERCISE)
    namespace: dict = {}
    exec(solution, namespace)
    assert namespace["f"](1) == 2 and "SOLUTION" not in solution


def test_unterminated_solution_is_an_error():
    with pytest.raises(ValueError, match="without '# END SOLUTION'"):
        stub_of("def f():\n    # BEGIN SOLUTION\n    return 1", "07.1")


def write_source(folder, name, cells):
    text = "\n\n".join(cells)
    path = folder / name
    path.write_text(text + "\n")
    return path


def test_exercises_need_markers_and_a_check(tmp_path):
    title = "# %% [markdown]\n# # 07 · Demo"
    no_marker = write_source(tmp_path, "07_a.py", [title, '# %% tags=["exercise"]\nx = 1', '# %% tags=["check"]\nx'])
    with pytest.raises(ValueError, match="no '# BEGIN SOLUTION' block"):
        exercises_of(no_marker)
    exercise = '# %% tags=["exercise"]\n' + EXERCISE
    no_check = write_source(tmp_path, "07_b.py", [title, exercise])
    with pytest.raises(ValueError, match="has no `check` cell"):
        exercises_of(no_check)
    good = write_source(
        tmp_path, "07_c.py", [title, '# %% tags=["setup"]\nimport math', exercise, '# %% tags=["check"]\nf(1)']
    )
    (found,) = exercises_of(good)
    assert found.exercise_id == "07.1" and found.setup == ["import math"] and found.check == "f(1)"


def test_navigation_links_neighbours(tmp_path):
    paths = [write_source(tmp_path, f"0{i}_n{i}.py", [f"# %% [markdown]\n# # 0{i} · Title {i}"]) for i in range(3)]
    first, middle, last = (navigation(paths, i) for i in range(3))
    assert first.startswith(NAV_MARK) and "Start of the series" in first and "(01_n1.ipynb)" in first
    assert "[00 · Title 0](00_n0.ipynb)" in middle and "[02 · Title 2](02_n2.ipynb)" in middle
    assert "End of the series" in last


def test_build_makes_stub_solution_nav_and_stable_ids(tmp_path):
    source = write_source(
        tmp_path,
        "07_demo.py",
        ["# %% [markdown]\n# # 07 · Demo", '# %% tags=["exercise"]\n' + EXERCISE, '# %% tags=["check"]\nf(1)'],
    )
    nb, solutions = build(source, [source])
    assert [c.metadata.get("tags") for c in nb.cells] == [None, ["navigation"], ["exercise"], ["check"], ["navigation"]]
    assert "NotImplementedError" in nb.cells[2].source
    assert "y = x + 1" in solutions and solutions.startswith('"""Solutions for 07 · Demo.')
    assert [c.id for c in nb.cells] == [f"07-{i:03d}" for i in range(5)]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    again, _ = build(source, [source])
    assert nbformat.writes(again) == nbformat.writes(nb)  # deterministic


def test_outputs_are_kept_only_when_code_is_unchanged():
    def notebook(code: str, markdown: str):
        return nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code)]
        )

    stored = notebook("1 + 1", "old text")
    stored.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    stored.cells[1].execution_count = 1
    relinked = notebook("1 + 1", "new text")
    assert keep_outputs(stored, relinked)
    assert relinked.cells[1].execution_count == 1 and relinked.cells[1].outputs[0].data["text/plain"] == "2"
    changed = notebook("1 + 2", "old text")
    assert not keep_outputs(stored, changed)
    assert changed.cells[1].outputs == [] and changed.cells[1].execution_count is None
