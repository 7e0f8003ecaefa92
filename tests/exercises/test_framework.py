"""The exercise framework, and the 00 checker against the mistakes learners actually make."""

from __future__ import annotations

from helpers.exercises.framework import CheckResult, Hint, checker, expect


def test_checker_turns_outcomes_into_results():
    @checker("99.1")
    def check(outcome: str) -> str:
        if outcome == "stub":
            raise NotImplementedError
        if outcome == "boom":
            raise KeyError("user")
        expect(outcome == "ok", "it was not ok.", "Make it ok.")
        return "all good."

    passed = check("ok")
    assert passed.passed and bool(passed) and repr(passed) == "✅ Exercise 99.1 solved: all good."
    failed = check("nope")
    assert not failed and repr(failed) == "❌ Exercise 99.1 not solved yet: it was not ok.\n   Hint: Make it ok."
    assert "still raises NotImplementedError" in check("stub").message
    crashed = check("boom")
    assert not crashed and crashed.message == "your function raised KeyError: 'user'" and crashed.hint


def test_hint_carries_problem_and_hint():
    hint = Hint("p", "h")
    assert (str(hint), hint.problem, hint.hint) == ("p", "p", "h")
    assert CheckResult("1", False, "m", "h").hint == "h"
