"""tools/build_notebooks.py: stubs from solutions, navigation, cell ids that stay put, outputs kept only when code
is unchanged."""

from __future__ import annotations

import textwrap

import nbformat
import pytest
from build_notebooks import NAV_IDS, NAV_MARK, build, exercises_of, keep_outputs, navigation, solution_of, stub_of
from notebook_series import KERNELSPEC

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
    assert nb.cells[1].id == NAV_IDS[0] and nb.cells[-1].id == NAV_IDS[1]
    assert all(c.id.startswith("07-") for c in nb.cells[2:-1]) and len({c.id for c in nb.cells}) == 5
    assert nb.metadata["kernelspec"] == KERNELSPEC
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


DEMO = [
    "# %% [markdown]\n# # 07 · Demo",
    "# %% [markdown]\n# ## Setup",
    "# %%\nx = 1",
    "# %%\nx",
    "# %% [markdown]\n# Same text.",
    "# %%\nx",
    "# %% [markdown]\n# ## Summary",
]


def ids_of(folder, cells) -> list[str]:
    folder.mkdir(exist_ok=True)
    source = write_source(folder, "07_demo.py", cells)
    nb, _ = build(source, [source])
    return [c.id for c in nb.cells]


def test_inserting_a_cell_changes_no_other_cells_id(tmp_path):
    before = ids_of(tmp_path / "before", DEMO)
    inserted = "# %%\ny = 2"
    after = ids_of(tmp_path / "after", [*DEMO[:3], inserted, *DEMO[3:]])
    # Cells 0 and 1 of the built notebook are the title and the top navigation; DEMO[3] is cell 4.
    assert after[:4] + after[5:] == before
    assert after[4] not in before
    removed = ids_of(tmp_path / "removed", [c for i, c in enumerate(DEMO) if i != 2])
    assert removed == [cell_id for i, cell_id in enumerate(before) if i != 3]


def test_identical_cells_are_told_apart_by_order_only(tmp_path):
    ids = ids_of(tmp_path, DEMO)
    first_x, second_x = ids[4], ids[6]  # the two `x` cells
    assert second_x == f"{first_x}-2"
    assert len(set(ids)) == len(ids)
    edited = ids_of(tmp_path / "edited", [c.replace("x = 1", "x = 3") for c in DEMO])
    assert [i for i, (old, new) in enumerate(zip(ids, edited, strict=True)) if old != new] == [3]


def test_an_explicit_id_in_the_cell_marker_wins(tmp_path):
    cells = [*DEMO[:2], '# %% tags=["setup"] id="setup-x"\nx = 1', *DEMO[3:]]
    ids = ids_of(tmp_path, cells)
    assert ids[3] == "setup-x"
    edited = ids_of(tmp_path / "edited", [c.replace("x = 1", "x = 3") for c in cells])
    assert edited == ids  # the explicit id survives an edit of its cell
    with pytest.raises(ValueError, match="used twice"):
        ids_of(tmp_path / "twice", [*cells, '# %% id="setup-x"\nz = 0'])
    with pytest.raises(ValueError, match="must be 1-64 letters"):
        ids_of(tmp_path / "bad", [*DEMO, '# %% id="no spaces"\nz = 0'])
