"""A workshop room on one server: several learners run the same notebook against one real Redis at once.

For each notebook, one private redis-server stands in for the workshop's shared server, and LEARNERS
processes run the notebook under strict nbval at the same time, each with its own RCP_LEARNER. Every run
must pass (its own assertions and the stored outputs, which must not depend on the learner), a sampler
must see keys of at least two learners on the server at the same moment (so the runs really overlapped),
the server's settings must be unchanged, and nothing may be left on it afterwards.

Not collected by ``make unit`` (the name does not match test_*.py): ``make test-room`` runs it, and CI
calls that target. About 2-3 minutes on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from helpers.core.keys import LEARNER_ENV, PROJECT_PREFIX
from helpers.core.sandbox import SandboxRedis

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LEARNERS = int(os.environ.get("RCP_ROOM_LEARNERS", "3"))
# 04's experiments run on private servers of their own (a shared REDIS_URL is never reconfigured and, without
# the opt-in, not even used), so none of its keys may appear on the shared server. 07's replicas and cluster
# are private servers too, started by each learner on ports of their own.
PRIVATE_ONLY = {"04", "07"}
NBVAL = [
    "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", "--nbval-cell-timeout=120",
    "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-o", "testpaths=notebooks", "-q",
]  # fmt: skip


class KeySampler(threading.Thread):
    """Samples which learners have keys of one notebook on the server, until stopped."""

    def __init__(self, client: redis.Redis, notebook: str) -> None:
        super().__init__(daemon=True)
        self.client, self.pattern = client, f"{PROJECT_PREFIX}:{notebook}:*"
        self.most_at_once: set[str] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            seen = {key.split(":")[2] for key in self.client.scan_iter(match=self.pattern, count=1000)}
            if len(seen) > len(self.most_at_once):
                self.most_at_once = seen
            self.done.wait(0.05)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name[:2] for p in NOTEBOOKS])
def test_learners_share_one_server(path: Path) -> None:
    assert LEARNERS >= 3, "the room test runs at least 3 learners per notebook"
    with SandboxRedis() as server:
        watcher = server.client()
        settings = watcher.config_get("maxmemory*")
        sampler = KeySampler(watcher, path.name[:2])
        sampler.start()
        runs = []
        for learner in range(1, LEARNERS + 1):
            env = dict(os.environ, REDIS_URL=server.url, **{LEARNER_ENV: f"learner{learner}"})
            env.pop("RCP_EVICT_ON_REDIS_URL", None)  # a shared server is never reconfigured
            runs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "pytest", *NBVAL, str(path.relative_to(ROOT))],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        started = time.monotonic()
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        sampler.done.set()
        sampler.join()
        failed = [
            f"learner{i}:\n{out[-3000:]}"
            for i, (run, out) in enumerate(zip(runs, outputs, strict=True), 1)
            if run.returncode
        ]
        assert not failed, "\n\n".join(failed)
        if path.name[:2] in PRIVATE_ONLY:
            assert not sampler.most_at_once, f"{path.name} wrote to the shared server: {sampler.most_at_once}"
        else:
            assert len(sampler.most_at_once) >= 2, f"the runs never overlapped on the server: {sampler.most_at_once}"
        assert watcher.config_get("maxmemory*") == settings, "the shared server's settings were changed"
        left = watcher.dbsize()
        leftovers = list(watcher.scan_iter(count=1000))[:10]
        assert left == 0, f"{left} keys left behind on the shared server, e.g. {leftovers}"
        print(f"{path.name}: {LEARNERS} learners in {time.monotonic() - started:.1f} s, nothing left behind")
        watcher.close()
