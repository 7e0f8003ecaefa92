"""Time each notebook, top to bottom in a fresh kernel, on fakeredis and on a real redis-server.

The speed targets live here, not in timed tests: a run over its target is reported (and the exit
status is 1), but the test suite never fails on speed. Stored outputs are not touched. With a real
server it also times notebook 04's pipelined replay of 200,000 requests (target: under 3 s).

Usage: python tools/bench.py [NN ...]   (make bench)
"""

from __future__ import annotations

import os
import sys
import time

import nbformat
from execute_notebooks import run
from notebook_series import chosen

from helpers.core.errors import RedisServerNotFound
from helpers.core.keys import KeySpace
from helpers.core.sandbox import SandboxRedis, find_redis_server
from helpers.core.workloads import zipf_requests
from helpers.harness.bulk_replay import calibrate_maxmemory, replay_cache_aside

# Seconds per notebook per backend on a 2-core machine (kernel start included). The series must stay
# under SERIES_TARGET_S per backend, so each notebook gets a share of it.
TARGETS_S = {"00": 10, "01": 15, "02": 12, "03": 15, "04": 25, "05": 15, "06": 30, "07": 30, "08": 20}
SERIES_TARGET_S = 90
REPLAY_REQUESTS, REPLAY_TARGET_S = 200_000, 3.0  # notebook 04's pipelined replay, one policy, real server


def time_replay(server: SandboxRedis) -> float:
    """Seconds to replay REPLAY_REQUESTS Zipf requests as cache-aside under allkeys-lru on ``server``."""
    client, keys = server.client(), KeySpace("bench")
    try:
        client.config_set("maxmemory-policy", "allkeys-lru")
        client.config_set("maxmemory", calibrate_maxmemory(client, keys, 1000))
        requests = zipf_requests(10_000, 1.0, REPLAY_REQUESTS, seed=2)
        start = time.perf_counter()
        replay_cache_aside(client, requests, keys)
        return time.perf_counter() - start
    finally:
        client.config_set("maxmemory", 0)
        keys.cleanup(client)
        client.close()


def time_notebook(path, redis_url: str | None) -> float:
    """Seconds to run one notebook in a fresh kernel with REDIS_URL set to ``redis_url`` (or unset)."""
    os.environ.pop("REDIS_URL", None)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    run(nb, path.parent)
    return time.perf_counter() - start


def main(selected: list[str]) -> int:
    paths = chosen("bench", selected)
    columns = {"fakeredis": None}
    server = None
    try:
        find_redis_server()
        server = SandboxRedis().start()
        columns[f"redis-server {server.version}"] = server.url
    except RedisServerNotFound as exc:
        print(f"Timing fakeredis only: {exc}")
    over = []
    totals = dict.fromkeys(columns, 0.0)
    try:
        print(f"{'notebook':<32}" + "".join(f"{name:>24}" for name in columns) + f"{'target':>10}")
        for path in paths:
            target = TARGETS_S.get(path.name[:2])
            cells = []
            for name, url in columns.items():
                seconds = time_notebook(path, url)
                totals[name] += seconds
                flag = "  OVER" if target is not None and seconds > target else ""
                if flag:
                    over.append(f"{path.name} on {name}: {seconds:.1f} s > {target} s")
                cells.append(f"{seconds:>18.1f} s{flag:<4}")
            print(f"{path.name:<32}" + "".join(cells) + (f"{target:>8} s" if target else f"{'-':>10}"))
        print(f"{'whole series':<32}" + "".join(f"{t:>22.1f} s" for t in totals.values()) + f"{SERIES_TARGET_S:>8} s")
        if server is not None:
            seconds = time_replay(server)
            label = f"{REPLAY_REQUESTS:,} requests replayed (04's pipelined replay)"
            print(f"{label}: {seconds:.2f} s, target {REPLAY_TARGET_S:g} s")
            if seconds > REPLAY_TARGET_S:
                over.append(f"the {REPLAY_REQUESTS:,}-request replay: {seconds:.2f} s > {REPLAY_TARGET_S:g} s")
    finally:
        if server is not None:
            server.stop()
    over += [
        f"whole series on {name}: {t:.1f} s > {SERIES_TARGET_S} s" for name, t in totals.items() if t > SERIES_TARGET_S
    ]
    for line in over:
        print(f"over target: {line}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
