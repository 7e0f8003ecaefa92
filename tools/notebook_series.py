"""The series' notebooks, chosen by number, and the kernel they run in: defined once, used everywhere.

``tools/build_notebooks.py``, ``tools/execute_notebooks.py``, ``tools/bench.py``, the Makefile's nbval
targets and the tests all select notebooks and name their kernel through this module. Only the standard
library is used, so any Python 3 can run it.

A selection is a list of number prefixes (``["01", "03"]``); empty means the whole series. A prefix that
matches no notebook is an error, so ``make test NB=07`` fails instead of quietly testing nothing.

Usage: python tools/notebook_series.py [NN ...]   prints the selected notebooks' paths, one per line,
relative to the project root (the Makefile's nbval targets pass them to pytest).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebook_sources"
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"

# The kernel every notebook names and runs in (build, execute, bench, and the tests that run notebooks).
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
KERNEL_NAME = KERNELSPEC["name"]


class NoSuchNotebook(ValueError):
    """A selection names a notebook number that the series does not have."""


def select(paths: list[Path], selected: list[str] | None) -> list[Path]:
    """The ``paths`` whose names start with one of the ``selected`` prefixes (all of them if none given)."""
    if not selected:
        return paths
    unmatched = [prefix for prefix in selected if not any(p.name.startswith(prefix) for p in paths)]
    if unmatched:
        numbers = " ".join(p.name[:2] for p in paths)
        raise NoSuchNotebook(f"no notebook numbered {' '.join(unmatched)}; the series is {numbers}")
    return [p for p in paths if any(p.name.startswith(prefix) for prefix in selected)]


def source_paths(selected: list[str] | None = None, folder: Path = SOURCES) -> list[Path]:
    """The notebook sources (``notebook_sources/NN_*.py``) in series order, filtered by number prefix."""
    return select(sorted(folder.glob("[0-9][0-9]_*.py")), selected)


def notebook_paths(selected: list[str] | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The built notebooks (``notebooks/NN_*.ipynb``) in series order, filtered by number prefix."""
    return select(sorted(folder.glob("[0-9][0-9]_*.ipynb")), selected)


def chosen(tool: str, selected: list[str], sources: bool = False) -> list[Path]:
    """The selected notebooks (or sources) for a command-line ``tool``; a wrong selection exits with why."""
    finder, folder = (source_paths, SOURCES) if sources else (notebook_paths, NOTEBOOKS)
    try:
        paths = finder(selected)
    except NoSuchNotebook as exc:
        raise SystemExit(f"{tool}: {exc}") from None
    if not paths:
        hint = "" if sources else ": build them with `make notebooks`"
        raise SystemExit(f"{tool}: no notebooks in {folder.relative_to(ROOT)}/{hint}")
    return paths


def main(selected: list[str]) -> int:
    """Print the selected notebooks' paths relative to the project root, one per line."""
    print("\n".join(str(p.relative_to(ROOT)) for p in chosen("notebook selection", selected)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
