"""Store fresh outputs in notebooks/*.ipynb: a new kernel each, top to bottom, on a private real redis-server.

The stored outputs are what a learner on a real server sees (issue 10): the run starts a throwaway
``SandboxRedis`` (``helpers.core.sandbox``) and points the kernels at it with ``REDIS_URL``; a server the
caller's ``REDIS_URL`` names is never used (it may be shared). Without a ``redis-server`` binary, or with
``--fakeredis``, the outputs come from fakeredis, and the run says so. nbval compares the stored outputs on
both backends, so every compared output is the same on both; what differs is tagged ``nbval-ignore-output``.

Execution counts come out 1..n in order, no widget state is saved, no timing metadata is
recorded, and the kernelspec stays the series' one (``tools/notebook_series.py``). A cell that
raises fails the run unless it is tagged ``raises-exception``.

Usage: python tools/execute_notebooks.py [--fakeredis] [NN ...]   (default: every notebook)
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def store_backend(fakeredis: bool) -> Iterator[str]:
    """Set ``REDIS_URL`` to a private sandbox server for the kernels (unset for fakeredis); yield its name."""
    from helpers.core.sandbox import RedisServerNotFound, SandboxRedis, find_redis_server

    os.environ.pop("REDIS_URL", None)  # never the caller's server: it may be shared
    if fakeredis:
        yield "fakeredis (--fakeredis)"
        return
    try:
        binary = find_redis_server()
    except RedisServerNotFound as exc:
        yield f"fakeredis (no redis-server found: {exc})"
        return
    with SandboxRedis(binary=binary) as server:
        os.environ["REDIS_URL"] = server.url
        try:
            yield f"a private {server.label}"
        finally:
            os.environ.pop("REDIS_URL", None)


def main(selected: list[str]) -> int:
    if os.environ.get("REDIS_URL"):
        print("Stored outputs never come from the server REDIS_URL names: ignoring it for this run.")
    fakeredis = "--fakeredis" in selected
    selected = [number for number in selected if number != "--fakeredis"]
    paths = chosen("execute_notebooks", selected)
    with store_backend(fakeredis) as backend:
        print(f"storing outputs from {backend}")
        for path in paths:
            execute_one(path)
    return 0


def execute_one(path: Path) -> None:
    """Run one notebook in a fresh kernel and store its outputs."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    run(nb, path.parent)
    nbformat.write(tidy(nb), path)
    print(f"executed {path.relative_to(ROOT)} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
