"""The labs' one protocol: lazy start, announce once, close once, context manager, borrowed client."""

from __future__ import annotations

import pytest

from helpers.core.errors import FriendlyError
from helpers.labs.base import Lab
from helpers.labs.eviction_lab import EvictionLab
from helpers.labs.expiry_lab import ExpiryLab


class CountingLab(Lab):
    KINDS = ("here",)

    def __init__(self) -> None:
        super().__init__()
        self.opened = self.shut = 0

    def _open(self) -> None:
        self.opened += 1
        self.client, self.kind, self.label = object(), "here", "a test server"

    def _shut(self) -> None:
        self.shut += 1

    def describe(self) -> str:
        return f"Runs {self.kind or 'nowhere yet'}."


def test_start_is_lazy_idempotent_and_announces_once(capsys):
    lab = CountingLab()
    assert lab.opened == 0 and not lab.running and repr(lab) == "CountingLab(not started)"
    with pytest.raises(FriendlyError, match=r"^The CountingLab is not running: run `lab.start\(\)` first\.$"):
        lab._require()
    client = lab.start()
    assert lab.start() is client and lab.opened == 1 and lab.kind in lab.KINDS
    assert capsys.readouterr().out == "Runs here.\n"
    assert repr(lab) == "CountingLab(here: a test server)"


def test_close_runs_once_and_the_lab_can_start_again():
    lab = CountingLab()
    lab.close()  # not running: nothing to do
    lab.start(announce=False)
    lab.close()
    lab.close()
    assert lab.shut == 1 and not lab.running and repr(lab) == "CountingLab(here: a test server, closed)"
    lab.start(announce=False)
    assert lab.opened == 2 and lab.running


def test_with_block_and_borrowed_close_what_they_started():
    with pytest.raises(ValueError), CountingLab() as lab:
        assert lab.running
        raise ValueError("inside the block")
    assert lab.shut == 1 and not lab.running
    with lab.borrowed() as client:
        assert client is lab.client
    assert lab.shut == 2 and not lab.running  # started for the block, closed after it
    lab.start(announce=False)
    with lab.borrowed():
        pass
    assert lab.running and lab.shut == 2  # a running lab is lent, not closed


def test_both_labs_follow_the_protocol():
    for cls in (ExpiryLab, EvictionLab):
        assert issubclass(cls, Lab) and cls.KINDS and "sandbox" in cls.KINDS
        for name in ("start", "close", "describe", "borrowed", "__enter__", "__exit__"):
            assert callable(getattr(cls, name))
