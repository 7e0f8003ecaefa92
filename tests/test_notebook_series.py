"""tools/notebook_series.py: notebooks chosen by number, a number that matches none is an error."""

from __future__ import annotations

import pytest
from notebook_series import ROOT, NoSuchNotebook, chosen, main, notebook_paths, select, source_paths


def make_series(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text("")
    return folder


def test_no_selection_is_the_whole_series_in_order(tmp_path):
    folder = make_series(tmp_path, ["01_b.ipynb", "00_a.ipynb", "02_c.ipynb", "notes.ipynb", "03_d.py"])
    assert [p.name for p in notebook_paths([], folder)] == ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]
    assert [p.name for p in source_paths(None, folder)] == ["03_d.py"]


def test_a_selection_keeps_series_order(tmp_path):
    folder = make_series(tmp_path, ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"])
    assert [p.name for p in notebook_paths(["02", "00"], folder)] == ["00_a.ipynb", "02_c.ipynb"]


def test_a_number_that_matches_nothing_is_an_error(tmp_path):
    paths = notebook_paths([], make_series(tmp_path, ["00_a.ipynb", "01_b.ipynb"]))
    with pytest.raises(NoSuchNotebook, match=r"^no notebook numbered 07 9; the series is 00 01$"):
        select(paths, ["00", "07", "9"])


def test_main_prints_paths_for_the_makefile(capsys):
    assert main(["03", "01"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(p.relative_to(ROOT)) for p in notebook_paths(["01", "03"])]
    assert len(printed) == 2 and all(line.startswith("notebooks/") for line in printed)
    with pytest.raises(SystemExit, match=r"^notebook selection: no notebook numbered 99; the series is 00 01 "):
        main(["99"])


def test_the_tools_exit_with_a_short_reason():
    with pytest.raises(SystemExit, match=r"^build_notebooks: no notebook numbered 7; the series is 00 "):
        chosen("build_notebooks", ["7"], sources=True)
    assert [p.suffix for p in chosen("bench", ["00"])] == [".ipynb"]
    assert [p.suffix for p in chosen("build_notebooks", ["00"], sources=True)] == [".py"]
