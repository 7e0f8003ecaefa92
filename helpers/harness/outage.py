"""Drive clients through a failing cache: a simulated outage on an injected clock, and a stall probe.

``SimulatedOutage`` wraps a client: while it is ``down`` (refused) or ``hung``, every command fails as a real
client's would (``redis.exceptions.ConnectionError`` at once, or ``TimeoutError`` after ``timeout_s`` on the
injected clock), and it counts the attempts. So a replay of thousands of requests through an outage runs in
milliseconds and counts exactly, while the notebook measures one real refusal and one real timeout on a
private server to show the simulation's two costs are real.

``stall_probe`` runs ``clients`` threads, each sending PING on its own connection every ``interval_s``,
while the main thread runs one blocking command: every client's latency during it, measured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from helpers.core.clock import Clock
from helpers.core.errors import InvalidArgument, require_positive, require_whole

UP, REFUSED, HUNG = "up", "refused", "hung"


class SimulatedOutage:
    """A client wrapper whose server can be up, refusing connections, or hung (timeouts on ``clock``)."""

    def __init__(self, client: redis.Redis, clock: Clock, *, timeout_s: float) -> None:
        self.client = client
        self.clock = clock
        self.timeout_s = require_positive("timeout_s", timeout_s)
        self.state = UP
        self.attempts = 0  # commands sent (or tried) since creation
        self.failures = 0  # of which failed
        self.waited_s = 0.0  # time spent waiting for timeouts, on ``clock``

    def set_state(self, state: str) -> None:
        """``'up'``, ``'refused'`` (connection refused at once) or ``'hung'`` (each command times out)."""
        if state not in (UP, REFUSED, HUNG):
            raise InvalidArgument(f"state must be one of {UP!r}, {REFUSED!r}, {HUNG!r}; got {state!r}.")
        self.state = state

    def get(self, key: str) -> object:
        """GET through the outage."""
        self._fail_if_down()
        return self.client.get(key)

    def set(self, key: str, value: object, **options: object) -> object:
        """SET through the outage (the same options as redis-py's ``set``)."""
        self._fail_if_down()
        return self.client.set(key, value, **options)

    def _fail_if_down(self) -> None:
        self.attempts += 1
        if self.state == UP:
            return
        self.failures += 1
        if self.state == REFUSED:
            raise redis.exceptions.ConnectionError("Connection refused (simulated outage).")
        self.clock.sleep(self.timeout_s)
        self.waited_s += self.timeout_s
        raise redis.exceptions.TimeoutError("Timeout reading from socket (simulated outage).")


@dataclass
class StallProbe:
    """Every probing client's PINGs: (sent at, latency) in seconds from the start, and the blocker's window."""

    pings: list[list[tuple[float, float]]] = field(default_factory=list)
    blocked_from: float = 0.0
    blocked_until: float = 0.0
    errors: int = 0

    def worst_wait_s(self) -> list[float]:
        """Each client's longest PING latency."""
        return [max((latency for _, latency in client), default=0.0) for client in self.pings]

    def waits_during_block(self) -> list[float]:
        """Each client's longest latency among the PINGs outstanding at some moment of the blocking command."""
        return [
            max(
                (
                    latency
                    for sent, latency in client
                    if sent < self.blocked_until and sent + latency > self.blocked_from
                ),
                default=0.0,
            )
            for client in self.pings
        ]


def stall_probe(
    make_client: Callable[[], redis.Redis],
    blocker: Callable[[redis.Redis], object],
    *,
    clients: int = 4,
    interval_s: float = 0.01,
    before_s: float = 0.15,
    after_s: float = 0.15,
) -> StallProbe:
    """Run ``blocker(client)`` while ``clients`` threads PING every ``interval_s``; return what each saw."""
    clients = require_whole("clients", clients, minimum=1)
    probe = StallProbe(pings=[[] for _ in range(clients)])
    stop = threading.Event()
    start = time.perf_counter()
    lock = threading.Lock()

    def ping_loop(index: int, client: redis.Redis) -> None:
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                client.ping()
            except redis.exceptions.RedisError:
                with lock:
                    probe.errors += 1
            done = time.perf_counter()
            probe.pings[index].append((sent - start, done - sent))
            stop.wait(interval_s)

    connections = [make_client() for _ in range(clients + 1)]
    for client in connections:
        client.ping()  # connected before the clock starts
    threads = [threading.Thread(target=ping_loop, args=(i, c), daemon=True) for i, c in enumerate(connections[1:])]
    for thread in threads:
        thread.start()
    try:
        time.sleep(before_s)
        probe.blocked_from = time.perf_counter() - start
        blocker(connections[0])
        probe.blocked_until = time.perf_counter() - start
        time.sleep(after_s)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        for client in connections:
            client.close()
    return probe
