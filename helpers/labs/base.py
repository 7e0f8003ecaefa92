"""The protocol both labs follow: where a server-side experiment runs, started lazily, always put back.

``expiry_lab.ExpiryLab`` (01) and ``eviction_lab.EvictionLab`` (04) are ``Lab`` subclasses:

- **Start is lazy and explicit.** Creating a lab touches no server. ``start()`` chooses where the
  experiment runs, opens it, prints ``describe()`` (unless ``announce=False``) and returns the client;
  calling it again returns the same client and prints nothing.
- ``kind`` says where it runs (one of the lab's ``KINDS``; None before the first start), ``label``
  names the backend for figure titles, ``client`` is the running client (None when not running).
- ``describe()`` is one sentence: which server, and why that one.
- ``close()`` puts back what the lab changed and stops a private server; it may be called twice, and
  the lab may be started again after it.
- ``with SomeLab(...) as lab:`` starts it quietly and closes it at the end of the block, even on an
  error; ``borrowed()`` lends the client of a running lab, or of one started for the block only.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from helpers.core.errors import FriendlyError

SANDBOX = "sandbox"  # a private redis-server started by the lab: a kind both labs can have


class Lab(ABC):
    """Where a server-side experiment runs: ``start()``, ``describe()``, ``close()``, ``kind``, ``label``."""

    KINDS: tuple[str, ...] = ()  # every value ``kind`` can take once started
    START_HINT = "lab.start()"  # the call the notebook makes, for the "not running" error

    def __init__(self) -> None:
        self.client: Any = None
        self.kind: str | None = None
        self.label = ""

    @abstractmethod
    def _open(self) -> None:
        """Choose where the experiment runs and open it: set ``client``, ``kind`` and ``label``."""

    @abstractmethod
    def _shut(self) -> None:
        """Put back what the lab changed and stop what it started (``client`` is still set)."""

    @abstractmethod
    def describe(self) -> str:
        """One sentence: which server the experiment runs on, and why."""

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``close()``."""
        return self.client is not None

    def start(self, *, announce: bool = True) -> Any:
        """Choose and open where the experiment runs (printing ``describe()`` if ``announce``); return its client."""
        if self.client is None:
            self._open()
            if announce:
                print(self.describe())
        return self.client

    def close(self) -> None:
        """Put back what the lab changed and stop a private server; a lab that is not running is left as it is."""
        if self.client is None:
            return
        try:
            self._shut()
        finally:
            self.client = None

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[Any]:
        """The running lab's client, or one started for the block and closed after it (for checkers)."""
        started_here = self.client is None
        client = self.start(announce=False)
        try:
            yield client
        finally:
            if started_here:
                self.close()

    def _require(self) -> Any:
        if self.client is None:
            raise FriendlyError(f"The {type(self).__name__} is not running: run `{self.START_HINT}` first.")
        return self.client

    def __enter__(self) -> Lab:
        self.start(announce=False)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"{self.kind}: {self.label}" if self.kind else "not started"
        return f"{type(self).__name__}({where}{'' if self.running or not self.kind else ', closed'})"
