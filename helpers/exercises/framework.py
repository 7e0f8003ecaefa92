"""Exercise checkers for the "Your turn" cells: a pass, or what is wrong and a hint.

A checker is a function decorated with ``@checker("00.1")`` that exercises the learner's code and
calls ``expect(condition, problem, hint)`` for each requirement. Whatever happens, it returns a
``CheckResult`` whose text is the same on every run (no timings), so notebooks can store it.

This module is the framework only: notebook NN's checkers live in ``helpers/exercises/nbNN_<topic>.py``
with ids ``NN.1``, ``NN.2`` ... in the order of the notebook's exercises (``tests/test_exercises.py``
checks that each check cell calls its own notebook's checker).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

STUB_HINT = "Replace the `raise NotImplementedError(...)` line with your code, run that cell, then run this one again."


class Hint(Exception):
    """Raised inside a checker: what is wrong (``problem``) and how to get closer (``hint``)."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""

    def __repr__(self) -> str:
        if self.passed:
            return f"✅ Exercise {self.exercise} solved: {self.message}"
        return f"❌ Exercise {self.exercise} not solved yet: {self.message}\n   Hint: {self.hint}"

    def __bool__(self) -> bool:
        return self.passed


def expect(condition: object, problem: str, hint: str) -> None:
    """Fail the check with ``problem`` and ``hint`` unless ``condition`` is true."""
    if not condition:
        raise Hint(problem, hint)


def checker(exercise: str) -> Callable[[Callable[..., str]], Callable[..., CheckResult]]:
    """Turn ``check(...) -> success message`` into a function returning a CheckResult, never raising."""

    def decorate(check: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(check)
        def run(*args: object, **kwargs: object) -> CheckResult:
            try:
                message = check(*args, **kwargs)
            except NotImplementedError:
                return CheckResult(exercise, False, "the function still raises NotImplementedError.", STUB_HINT)
            except Hint as failed:
                return CheckResult(exercise, False, failed.problem, failed.hint)
            except Exception as exc:  # the learner's code raised: report it, do not crash the notebook
                return CheckResult(
                    exercise,
                    False,
                    f"your function raised {type(exc).__name__}: {exc}",
                    "Run it by hand on one user id to see the error, fix it, then check again.",
                )
            return CheckResult(exercise, True, message)

        return run

    return decorate
