"""The interceptor sees every command, on its own, pipelined or in MULTI/EXEC, and only on its own instance."""

from __future__ import annotations

import pytest
import redis

from helpers.core.backend import new_connection
from helpers.core.keys import KeySpace
from helpers.harness.consistency import _CommandCounter
from helpers.harness.intercept import Block, Command, CommandHook, intercept

KEYS = KeySpace("intercept-test")


class Recorder(CommandHook):
    """Records what it sees, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.blocks: list[Block] = []
        self.seen: list[tuple[str, object]] = []

    def around_command(self, command, send):
        self.sent.append(command.name)
        return send()

    def around_block(self, block, send):
        self.blocks.append(block)
        return send()

    def saw(self, command, reply):
        self.seen.append((command.name, reply))


@pytest.fixture
def cache(client):
    KEYS.cleanup(client)
    yield client
    KEYS.cleanup(client)


def test_three_sets_two_of_them_in_a_pipeline_count_as_three(cache):
    counter = _CommandCounter()
    counted = counter.attach(new_connection(cache))
    try:
        counted.set(KEYS.key("a"), "1")
        pipe = counted.pipeline(transaction=False)
        pipe.set(KEYS.key("b"), "2")
        pipe.set(KEYS.key("c"), "3")
        pipe.execute()
    finally:
        counted.close()
    assert counter.sets == 3
    assert counter.unread_keys() == sorted(KEYS.key(k) for k in "abc")


def test_commands_queued_in_multi_exec_are_seen_one_by_one_and_the_block_as_a_unit(cache):
    hook = Recorder()
    conn = intercept(new_connection(cache), hook)
    try:
        with conn.pipeline(transaction=True) as pipe:
            pipe.set(KEYS.key("x"), "1")
            pipe.get(KEYS.key("x"))
            assert pipe.execute() == [True, "1"]
    finally:
        conn.close()
    assert hook.sent == []  # nothing went out on its own
    (block,) = hook.blocks
    assert block.transaction and [c.name for c in block.commands] == ["SET", "GET"]
    assert all(c.queued for c in block.commands)
    assert hook.seen == [("SET", True), ("GET", "1")]


def test_watch_and_the_reads_before_multi_go_out_on_their_own(cache):
    hook = Recorder()
    conn = intercept(new_connection(cache), hook)
    key = KEYS.key("w")
    try:
        cache.set(key, "old")
        with conn.pipeline() as pipe:
            pipe.watch(key)
            value = pipe.get(key)
            pipe.multi()
            pipe.set(key, value + "!")
            pipe.execute()
    finally:
        conn.close()
    assert hook.sent == ["WATCH", "GET"]
    assert [c.name for c in hook.blocks[0].commands] == ["SET"]
    assert hook.seen == [("WATCH", True), ("GET", "old"), ("SET", True)]


def test_a_failed_transaction_reports_no_replies(cache):
    hook = Recorder()
    conn = intercept(new_connection(cache), hook)
    key = KEYS.key("raced")
    try:
        with conn.pipeline() as pipe:
            pipe.watch(key)
            pipe.multi()
            pipe.set(key, "mine")
            cache.set(key, "theirs")  # another client changes the watched key
            with pytest.raises(redis.WatchError):
                pipe.execute()
    finally:
        conn.close()
    assert len(hook.blocks) == 1 and ("SET", True) not in hook.seen


def test_scripts_are_one_command_even_when_redis_py_loads_them(cache):
    hook = Recorder()
    conn = intercept(new_connection(cache), hook)
    try:
        script = conn.register_script("return redis.call('GET', KEYS[1])")
        cache.set(KEYS.key("s"), "v")
        assert script(keys=[KEYS.key("s")]) == "v"
        sent_alone = list(hook.sent)
        pipe = conn.pipeline()
        script(keys=[KEYS.key("s")], client=pipe)
        assert pipe.execute() == ["v"]
    finally:
        conn.close()
    assert sent_alone[-1] == "EVALSHA"
    assert hook.sent == sent_alone  # the SCRIPT EXISTS the block needed ran inside it, not as a command of its own
    assert [c.name for c in hook.blocks[0].commands] == ["EVALSHA"] and hook.seen[-1] == ("EVALSHA", "v")


def test_a_hook_can_refuse_a_command_before_it_is_sent(cache):
    class Refuse(CommandHook):
        def around_command(self, command: Command, send):
            raise PermissionError(command.name)

    conn = intercept(new_connection(cache), Refuse())
    try:
        with pytest.raises(PermissionError, match="SET"):
            conn.set(KEYS.key("r"), "1")
    finally:
        conn.close()
    assert not cache.exists(KEYS.key("r"))


def test_only_the_intercepted_instance_changes(cache):
    hook = Recorder()
    conn = intercept(new_connection(cache), hook)
    other = new_connection(cache)
    try:
        other.set(KEYS.key("o"), "1")
        other.pipeline().set(KEYS.key("o"), "2").execute()
        cache.get(KEYS.key("o"))
        conn.get(KEYS.key("o"))
    finally:
        conn.close()
        other.close()
    assert hook.seen == [("GET", "2")]
    assert "execute_command" not in vars(other) and "pipeline" not in vars(other)
    assert type(conn).execute_command is type(other).execute_command


def test_intercept_wants_a_redis_client():
    with pytest.raises(TypeError, match="redis-py client"):
        intercept(object(), CommandHook())
