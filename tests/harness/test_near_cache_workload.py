"""The near-cache workload: seeded, counts stale reads exactly, counts Redis reads on the server when it can."""

from __future__ import annotations

import pytest

from helpers.core.backend import backend_info
from helpers.core.errors import InvalidArgument
from helpers.core.keys import KeySpace
from helpers.harness.near_cache_workload import (
    READ,
    WRITE,
    format_table,
    near_cache_workload,
    run_workload,
    server_read_calls,
)


def test_the_workload_is_seeded_and_has_the_asked_share_of_writes():
    ops = near_cache_workload(n_ops=4000, n_keys=20, write_share=0.1, seed=3)
    assert ops == near_cache_workload(n_ops=4000, n_keys=20, write_share=0.1, seed=3)
    writes = sum(op.kind == WRITE for op in ops)
    assert 0.08 < writes / len(ops) < 0.12
    assert {op.kind for op in ops} == {READ, WRITE} and all(0 <= op.key < 20 for op in ops)
    with pytest.raises(InvalidArgument):
        near_cache_workload(10, 5, 1.0, seed=1)


def test_stale_reads_are_reads_older_than_the_last_write():
    store: dict[str, str] = {}
    names = ["a", "b"]
    store.update(dict.fromkeys(names, "v1"))
    frozen = dict(store)  # a read path that never sees a write
    ops = near_cache_workload(n_ops=300, n_keys=2, write_share=0.2, seed=1)
    counted = [0]

    def fresh(key):
        counted[0] += 1
        return store[key]

    live = run_workload("live", fresh, store.__setitem__, ops, names, redis_reads=lambda: counted[0])
    assert live.stale_reads == 0 and live.redis_reads == live.reads and live.reads_saved == 0
    store.update(dict.fromkeys(names, "v1"))
    old = run_workload("frozen", frozen.__getitem__, store.__setitem__, ops, names, redis_reads=lambda: 0)
    first_write = {}
    for position, op in enumerate(ops):
        if op.kind == WRITE:
            first_write.setdefault(op.key, position)
    expected = sum(
        1 for position, op in enumerate(ops) if op.kind == READ and position > first_write.get(op.key, len(ops))
    )
    assert old.stale_reads == expected > 0 and old.reads_saved == old.reads
    table = format_table([live, old])
    assert table.splitlines()[0].startswith("read path") and "frozen" in table and "100%" in table


def test_the_server_counts_get_and_mget_calls(client):
    counter = server_read_calls(client)
    if not backend_info(client).is_real:
        assert counter is None  # fakeredis has no INFO commandstats: the notebook counts in the read path
        return
    keys = KeySpace("06-test-workload")
    before = counter()
    client.get(keys.key("x"))
    client.mget([keys.key("x"), keys.key("y")])
    assert counter() - before == 2
