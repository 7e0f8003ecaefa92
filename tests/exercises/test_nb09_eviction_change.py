"""Notebook 09's checkers pass the right answers and explain each known-wrong one."""

from __future__ import annotations

from helpers.exercises.nb09_eviction_change import (
    SHIFT_MAX_ITEMS,
    SHIFT_TARGET,
    check_shift_choice,
    check_sieve_hand,
    shift_task_hit_ratio,
)


def test_the_shift_checker_passes_a_decaying_lfu_with_the_whole_budget():
    assert check_shift_choice(lambda: ("allkeys-lfu", 2, SHIFT_MAX_ITEMS))
    assert check_shift_choice(lambda: ("allkeys-lfu", 3, SHIFT_MAX_ITEMS))


def test_the_shift_checker_explains_each_wrong_choice():
    cases = {
        ("allkeys-lru", 1, SHIFT_MAX_ITEMS): "try LFU",
        ("allkeys-lfu", 0, SHIFT_MAX_ITEMS): "Let them decay",
        ("allkeys-lfu", 1, SHIFT_MAX_ITEMS): "slower decay",
        ("allkeys-lfu", 10, SHIFT_MAX_ITEMS): "faster decay",
        ("allkeys-lfu", 2, 200): "whole budget",
    }
    for choice, hint in cases.items():
        result = check_shift_choice(lambda choice=choice: choice)
        assert not result.passed and hint in result.hint, (choice, result)
    over = check_shift_choice(lambda: ("allkeys-lfu", 2, SHIFT_MAX_ITEMS + 1))
    assert not over.passed and "budget is fixed" in over.hint
    assert "triple" in check_shift_choice(lambda: ("allkeys-lfu", 2)).message
    assert "evicts" in check_shift_choice(lambda: ("noeviction", 0, 100)).hint


def test_the_training_sequence_tells_the_same_story_as_the_held_out_one():
    """What the learner simulates on the training seed ranks the choices as the checker's sequence does."""
    assert shift_task_hit_ratio("allkeys-lfu", 2, SHIFT_MAX_ITEMS) >= SHIFT_TARGET
    assert shift_task_hit_ratio("allkeys-lfu", 0, SHIFT_MAX_ITEMS) < SHIFT_TARGET
    assert shift_task_hit_ratio("allkeys-lru", 1, SHIFT_MAX_ITEMS) < SHIFT_TARGET


def right_hand(order, visited, hand):
    while visited[order[hand]]:
        visited[order[hand]] = False
        hand = (hand + 1) % len(order)
    return hand


def test_the_sieve_checker_passes_the_hand():
    assert check_sieve_hand(right_hand)


def test_the_sieve_checker_explains_each_wrong_hand():
    def fifo(order, visited, hand):
        return hand

    def never_clears(order, visited, hand):
        while visited[order[hand]]:
            hand = (hand + 1) % len(order)
        return hand

    def no_wrap(order, visited, hand):
        while visited[order[hand]]:
            visited[order[hand]] = False
            hand += 1
        return hand

    def backwards(order, visited, hand):
        while visited[order[hand]]:
            visited[order[hand]] = False
            hand = (hand - 1) % len(order)
        return hand

    def oldest_unvisited(order, visited, hand):  # ignores the hand: scans from the oldest key every time
        for index, key in enumerate(order):
            if not visited[key]:
                return index
            visited[key] = False
        return 0

    expected = {
        fifo: "second chance",
        never_clears: "Clear each visited bit",
        no_wrap: "wraps around to index 0",
        backwards: "toward newer keys",
        oldest_unvisited: "return `hand` itself",
    }
    for wrong, hint in expected.items():
        result = check_sieve_hand(wrong)
        assert not result.passed and hint in result.hint, (wrong.__name__, result)


def test_a_stub_fails_with_the_stub_hint():
    def stub(order, visited, hand):
        raise NotImplementedError

    result = check_sieve_hand(stub)
    assert not result and "NotImplementedError" in result.message
