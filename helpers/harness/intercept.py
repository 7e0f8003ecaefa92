"""One way to see every command a redis-py client sends: on its own, queued in a pipeline, or in MULTI/EXEC.

``intercept(client, hook)`` wraps one client *instance* (never its class, never another connection) so
that a ``CommandHook`` sees what it sends, and can count, record, time, delay or refuse it:

- ``around_command(command, send)`` for each command sent on its own (including the commands a
  pipeline sends at once, such as WATCH and the reads between WATCH and MULTI); it must call ``send()``
  to run the command and return the reply;
- ``around_block(block, send)`` once for each pipeline or MULTI/EXEC block, as a unit: ``send()`` runs
  the whole block and returns its replies (what the block itself needs, such as loading its scripts,
  runs inside it and is not seen again);
- ``saw(command, reply)`` after every command that got a reply, each queued command of a block too.

The harnesses build on it: the race replay gates and records each operation (``interleaving``), a herd
times each client's commands and stops a stuck one (``herd``), and the consistency measurement counts
SETs and the entries never read (``consistency``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class Command:
    """One Redis command: its name in capitals (``"SET"``) and every argument as sent, the name first."""

    name: str
    args: tuple
    queued: bool = False  # True when it was queued in a pipeline or a MULTI/EXEC block

    @property
    def keys_and_values(self) -> list[str]:
        """The arguments after the name, as text."""
        return [str(arg) for arg in self.args[1:]]


@dataclass(frozen=True)
class Block:
    """The commands of one pipeline sent as a unit; ``transaction`` when they run inside MULTI/EXEC."""

    commands: tuple[Command, ...]
    transaction: bool


class CommandHook:
    """What an interceptor calls; the defaults let every command through unchanged. Override what you need."""

    def around_command(self, command: Command, send: Callable[[], object]) -> object:
        """Run one command sent on its own: call ``send()`` and return its reply."""
        return send()

    def around_block(self, block: Block, send: Callable[[], list]) -> list:
        """Run one pipeline or MULTI/EXEC block: call ``send()`` and return its replies."""
        return send()

    def saw(self, command: Command, reply: object) -> None:
        """Called after each command that got a reply, queued ones included."""


def command_of(args: Sequence[object], *, queued: bool = False) -> Command:
    """The ``Command`` for redis-py's ``execute_command`` arguments (``("SET", "k", "v")``)."""
    return Command(str(args[0]).upper(), tuple(args), queued)


def intercept(client: redis.Redis, hook: CommandHook) -> redis.Redis:
    """Make ``hook`` see every command ``client`` sends from now on; return the same client.

    Only this instance changes: other connections, even to the same server, are not intercepted.
    """
    if not isinstance(client, redis.Redis):
        raise TypeError(f"intercept() wraps a redis-py client, got {type(client).__name__}.")
    send_command = client.execute_command

    def execute_command(*args, **options):
        return _around(hook, command_of(args), lambda: send_command(*args, **options))

    make_pipeline = client.pipeline

    def pipeline(*args, **kwargs):
        return _intercept_pipeline(make_pipeline(*args, **kwargs), hook)

    client.execute_command = execute_command  # instance attributes: the class stays as it was
    client.pipeline = pipeline
    return client


def _around(hook: CommandHook, command: Command, send: Callable[[], object]) -> object:
    reply = hook.around_command(command, send)
    hook.saw(command, reply)
    return reply


def _intercept_pipeline(pipe: redis.client.Pipeline, hook: CommandHook) -> redis.client.Pipeline:
    """``pipe`` with its immediate commands and each execution of its block seen by ``hook``."""
    send_now, send_block = pipe.immediate_execute_command, pipe.execute
    inside_block = [False]

    def immediate_execute_command(*args, **options):
        if inside_block[0]:  # e.g. the SCRIPT LOAD a block needs: part of the block, already seen as a unit
            return send_now(*args, **options)
        return _around(hook, command_of(args), lambda: send_now(*args, **options))

    def execute(raise_on_error: bool = True):
        commands = tuple(command_of(args, queued=True) for args, _options in pipe.command_stack)
        block = Block(commands, transaction=bool(pipe.transaction or pipe.explicit_transaction))

        def send() -> list:
            inside_block[0] = True
            try:
                return send_block(raise_on_error)
            finally:
                inside_block[0] = False

        replies = hook.around_block(block, send)
        for command, reply in zip(commands, replies or [], strict=False):
            hook.saw(command, reply)
        return replies

    pipe.immediate_execute_command = immediate_execute_command
    pipe.execute = execute
    return pipe
