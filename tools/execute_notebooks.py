"""Store fresh outputs in notebooks/*.ipynb: a new kernel each, top to bottom, on fakeredis.

Execution counts come out 1..n in order, no widget state is saved, no timing metadata is
recorded, and the kernelspec stays the series' one (``tools/notebook_series.py``). A cell that
raises fails the run unless it is tagged ``raises-exception``.

Usage: python tools/execute_notebooks.py [NN ...]   (default: every notebook)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from notebook_series import KERNEL_NAME, KERNELSPEC, ROOT, chosen

CELL_TIMEOUT_S = 60


def run(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Execute ``nb`` in a fresh kernel of the series' kernelspec started in ``cwd``; return it with outputs."""
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(cwd)}},
        store_widget_state=False,
        record_timing=False,
    )
    client.execute()
    return nb


def tidy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what should never be committed: widget state, per-cell execution metadata."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def main(selected: list[str]) -> int:
    if os.environ.pop("REDIS_URL", None):
        print("Stored outputs always come from the default backend: ignoring REDIS_URL for this run.")
    paths = chosen("execute_notebooks", selected)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        run(nb, path.parent)
        nbformat.write(tidy(nb), path)
        print(f"executed {path.relative_to(ROOT)} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
