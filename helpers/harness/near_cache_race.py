"""Replay the near cache's race: a read reply and an invalidation crossing, in the same order on every run.

With ``CLIENT TRACKING ... REDIRECT`` the reply to a read travels on the data connection and the
invalidation on the listener's. The server can answer the read, then see a write and send the
invalidation, and the client's listener can handle the invalidation *before* the client reads the
reply: the reply then puts a value in the near cache that the invalidation was meant to remove.

``stage_crossing(make_near, read, schedule, ...)`` makes that happen on purpose, in one thread,
with four steps in the order ``schedule`` gives:

- ``SEND``: the near cache's first Redis read (a GET or an MGET) is sent, and the harness waits until
  the server's reply is in the socket (the server has answered; the client has not looked yet);
- ``WRITE``: another client SETs the written key to its new value;
- ``DELIVER``: whatever reached the listener connection is handed to ``near.invalidate``;
- ``RECEIVE``: the near cache reads the reply and carries on.

On a real server (``url``) these are real connections, real tracking and real push messages. Without
one, the same four steps run against a dict with a simulated invalidation, and the result says so.
After the four steps the harness reads every key through the near cache twice and counts the
reads that returned the old value of the written key: stale reads *after* the invalidation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from helpers.core.errors import FriendlyError, InvalidArgument
from helpers.core.keys import short_key
from helpers.harness.tracking import InvalidationListener, tracked_connection

SEND = "reader sends its read"
WRITE = "writer sets the key"
DELIVER = "listener delivers"
RECEIVE = "reader receives the reply"
STEPS = (SEND, WRITE, DELIVER, RECEIVE)
REPLY_WAIT_S = 2.0  # how long to wait for a reply or a push that must come (loopback: well under 1 ms)


class CrossingError(FriendlyError):
    """The schedule or the near cache does not fit the race (a step missing, no read reaching Redis, ...)."""


@dataclass(frozen=True)
class CrossingStep:
    """One step of the replay: its name, what happened, and what the near cache held for the written key after."""

    index: int
    name: str
    detail: str
    local_after: str

    def __str__(self) -> str:
        return f"{self.index}  {self.name:<26} {self.detail:<44} near cache: {self.local_after}"


@dataclass
class StagedCrossing:
    """What happened in one replay, and what reads returned afterwards."""

    steps: list[CrossingStep]
    read_command: str  # the crossing read as sent, e.g. "MGET k1 k2 k3"
    returned: object  # what read(near) returned
    where: str  # "a real redis-server" or "simulated (no redis-server)"
    written_key: str
    old_value: str
    new_value: str
    delivered: bool  # an invalidation naming the written key reached near.invalidate during the steps
    reads_after: list[tuple[str, object]]  # (key, value returned), after the four steps
    redis_reads_after: int  # how many of those reads went to Redis

    @property
    def stale_reads_after(self) -> int:
        """Reads after the steps that returned the written key's old value."""
        return sum(1 for key, value in self.reads_after if key == self.written_key and value == self.old_value)

    @property
    def verdict(self) -> str:
        """One line: stale or not, after the invalidation."""
        if not self.delivered:
            return "no invalidation reached the near cache during the replay"
        if self.stale_reads_after:
            return (
                f"STALE: {self.stale_reads_after} of {len(self.reads_after)} reads after the invalidation "
                f"returned {self.old_value!r}"
            )
        return f"fresh: no read after the invalidation returned the old {self.old_value!r}"

    def __repr__(self) -> str:
        return "\n".join([f"replayed on {self.where}:", *(str(step) for step in self.steps), self.verdict])


def stage_crossing(
    make_near: Callable[[object], object],
    read: Callable[[object], object],
    schedule: Sequence[str],
    *,
    url: str | None,
    keys: Sequence[str],
    written_key: str,
    old_value: str = "v1",
    new_value: str = "v2",
) -> StagedCrossing:
    """Run ``read(near)`` with ``near = make_near(client)`` and the four steps in ``schedule`` order.

    ``keys`` start holding ``old_value`` (on the server at ``url``, or in a simulated store when ``url``
    is None); the writer sets ``written_key`` to ``new_value``. ``near.invalidate(keys_or_None)`` is the
    tracking handler the listener calls.
    """
    order = _validated(schedule)
    if written_key not in keys:
        raise InvalidArgument(f"written_key {written_key!r} must be one of keys {list(keys)}.")
    wire = _RealWire(url, keys, old_value) if url else _SimulatedWire(keys, old_value)
    try:
        near = make_near(wire.client)
        race = _Race(wire, near, order, written_key, new_value)
        wire.client.on_first_read = race.between_send_and_receive
        race.run_until(SEND)
        returned = read(near)
        if not race.sent:
            raise CrossingError("the read never reached Redis: it must read through near.redis (get or mget).")
        race.run_until(None)
        reads_before = wire.client.reads
        after = [(key, near.get(key)) for _ in range(2) for key in keys]
        return StagedCrossing(
            race.steps,
            race.read_command,
            returned,
            wire.where,
            written_key,
            old_value,
            new_value,
            race.delivered,
            after,
            wire.client.reads - reads_before,
        )
    finally:
        wire.close()


def _validated(schedule: Sequence[str]) -> list[str]:
    if isinstance(schedule, str) or sorted(schedule) != sorted(STEPS):
        raise CrossingError(f"the schedule must hold each of the four steps once: {list(STEPS)}; got {schedule!r}.")
    order = list(schedule)
    if order.index(RECEIVE) < order.index(SEND):
        raise CrossingError("the reader cannot receive its reply before it sends its read: put SEND before RECEIVE.")
    return order


class _Race:
    """Runs the schedule's steps around the near cache's first read."""

    def __init__(self, wire, near, order: list[str], written_key: str, new_value: str) -> None:
        self.wire, self.near, self.order = wire, near, order
        self.written_key, self.new_value = written_key, new_value
        self.position = 0
        self.steps: list[CrossingStep] = []
        self.sent = False
        self.read_command = ""
        self.sent_keys: set[str] = set()  # the keys the crossing read asked for (the server now tracks them)
        self.push_due = False
        self.delivered = False
        self.received: str | None = None  # the RECEIVE step, recorded once the near cache has handled the reply

    def run_until(self, stop: str | None) -> None:
        """Run steps until ``stop`` (not run) is next, or to the end."""
        if self.received is not None:
            self._record(RECEIVE, self.received)
            self.received = None
        while self.position < len(self.order) and self.order[self.position] != stop:
            name = self.order[self.position]
            self.position += 1
            if name == WRITE:
                self.wire.write(self.written_key, self.new_value)
                self._record(WRITE, f"SET {short_key(self.written_key)} {self.new_value!r} -> OK")
                self.push_due = self.written_key in self.sent_keys  # the server tracks it: a push is on its way
            elif name == DELIVER:
                self._deliver()
            else:
                raise CrossingError(f"step {name!r} can only run inside the near cache's read")

    def between_send_and_receive(self, command: str) -> None:
        """Called by the wire once the read was sent and answered: run SEND, the steps up to RECEIVE, then RECEIVE."""
        self.sent = True
        self.sent_keys = set(command.split()[1:])
        self.read_command = command
        self.position += 1  # SEND itself
        name, *names = command.split()
        self._record(SEND, f"{' '.join([name, *map(short_key, names)])} (answered, not read yet)")
        self.run_until(RECEIVE)
        self.position += 1  # RECEIVE: the wire reads the reply when this returns
        self.wire.on_receive = lambda reply: setattr(self, "received", f"reply {reply!r}")

    def _deliver(self) -> None:
        payloads = self.wire.pending(self.push_due)
        self.push_due = False
        for payload in payloads:
            self.near.invalidate(payload)
            if payload is None or self.written_key in payload:
                self.delivered = True
        shown = [short_key(key) for key in payloads[0]] if payloads and payloads[0] is not None else None
        self._record(DELIVER, f"invalidate {shown!r}" if payloads else "nothing has arrived")

    def _record(self, name: str, detail: str) -> None:
        entry = self.near.local.get(self.written_key) if hasattr(self.near, "local") else None
        if entry is None:
            shown = "(nothing)"
        elif isinstance(entry, tuple):
            shown = repr(entry[0])
        else:
            shown = "being fetched"
        self.steps.append(CrossingStep(len(self.steps) + 1, name, detail, shown))


class _WireClient:
    """What the near cache sees as ``near.redis``: get and mget, the first read crossing the invalidation."""

    def __init__(self, send: Callable[[str, Sequence[str]], object]) -> None:
        self._send = send
        self.on_first_read: Callable[[str], None] | None = None
        self.reads = 0

    def get(self, key: str) -> str | None:
        """GET ``key`` (the first read of the replay is the one the invalidation crosses)."""
        return self._send("GET", [key])

    def mget(self, keys: Sequence[str], *more: str) -> list[str | None]:
        """MGET the keys (a list, or several arguments as in redis-py)."""
        names = [keys, *more] if isinstance(keys, str) else [*keys, *more]
        return self._send("MGET", names)


class _RealWire:
    """A tracked RESP2 connection, a listener it redirects to, and a writer, on a real server."""

    where = "a real redis-server"

    def __init__(self, url: str, keys: Sequence[str], old_value: str) -> None:
        self.writer = tracked_connection(url)
        self.writer.mset(dict.fromkeys(keys, old_value))
        self.listener = InvalidationListener(url)
        self.data = tracked_connection(url)
        self.data.client_tracking_on(clientid=self.listener.client_id)
        self.client = _WireClient(self._send)
        self.on_receive: Callable[[object], None] | None = None
        self._keys = list(keys)

    def _send(self, command: str, names: Sequence[str]) -> object:
        self.client.reads += 1
        hook, self.client.on_first_read = self.client.on_first_read, None
        if hook is None:
            return self.data.execute_command(command, *names)
        connection = self.data.connection
        connection.send_command(command, *names)
        if not connection.can_read(timeout=REPLY_WAIT_S):
            raise CrossingError(f"no reply to {command} within {REPLY_WAIT_S} s")
        hook(f"{command} {' '.join(names)}")
        reply = connection.read_response()
        if self.on_receive is not None:
            self.on_receive(reply)
        return reply

    def write(self, key: str, value: str) -> str:
        """SET the key from another connection."""
        self.writer.set(key, value)
        return f"SET {key} {value!r} -> OK"

    def pending(self, expect_push: bool) -> list:
        """What reached the listener (waiting for a push when one must come)."""
        return self.listener.poll(timeout=REPLY_WAIT_S if expect_push else 0.0)

    def close(self) -> None:
        """Delete the keys and close every connection."""
        try:
            self.writer.delete(*self._keys)
        finally:
            self.data.close()
            self.listener.close()
            self.writer.close()


class _SimulatedWire:
    """The same four steps without a server: a dict, and the invalidation the server would have sent."""

    where = "simulated (no redis-server)"

    def __init__(self, keys: Sequence[str], old_value: str) -> None:
        self.store = dict.fromkeys(keys, old_value)
        self.tracked: set[str] = set()
        self.queued: list[list[str]] = []
        self.client = _WireClient(self._send)
        self.on_receive: Callable[[object], None] | None = None

    def _send(self, command: str, names: Sequence[str]) -> object:
        self.client.reads += 1
        self.tracked.update(names)  # default-mode tracking: the server remembers what this client read
        reply = self.store.get(names[0]) if command == "GET" else [self.store.get(name) for name in names]
        hook, self.client.on_first_read = self.client.on_first_read, None
        if hook is not None:
            hook(f"{command} {' '.join(names)}")
            if self.on_receive is not None:
                self.on_receive(reply)
        return reply

    def write(self, key: str, value: str) -> str:
        """Change the key; queue an invalidation if it was read (tracking is one-shot)."""
        self.store[key] = value
        if key in self.tracked:
            self.tracked.discard(key)
            self.queued.append([key])
        return f"SET {key} {value!r} -> OK"

    def pending(self, expect_push: bool) -> list:
        """The queued invalidations."""
        found, self.queued = self.queued, []
        return found

    def close(self) -> None:
        """Nothing to close."""
