"""How long a notebook takes a learner, computed from the notebook itself (the method of docs/authoring.md).

    minutes = markdown words / 150  +  1 per learner-visible code cell  +  the minutes each exercise states

rounded up to a multiple of 5. Learner-visible code cells are all code cells not tagged ``verify``,
``exercise`` or ``check`` (an exercise's own time is the one its heading states:
``### Exercise 01.2: Sliding TTL with GETEX (core, about 10 min)``). The generated navigation cells are not
counted. The **core path** is the same sum over the cells outside every section or exercise whose heading
ends with ``(going deeper)``: the title and setup, the core sections and exercises, the summary and cleanup.

A numbered heading (``## 3. ...``, ``### 3.2 ...``) ends with ``(core)`` or ``(going deeper)``; a heading
without a label (``### Explore it yourself``) belongs to the section around it, and a ``##`` heading without
a number (``## Your turn``, ``## Summary``) starts a core part again. The title cell states both results:
``**Time to learn**: about 60 min (core path: about 35 min).`` (``tests/test_notebook_time.py`` recomputes it).

Usage: python tools/notebook_time.py [NN ...]   (default: every notebook; prints a Markdown table)
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

WORDS_PER_MIN = 150
MIN_PER_CODE_CELL = 1
HIDDEN_TAGS = {"verify", "exercise", "check"}  # code cells a learner does not read as a lesson step
HEADING = re.compile(r"^(?P<level>#{2,6}) (?P<text>.+?)\s*$")
NUMBERED = re.compile(r"^\d+(\.\d+)*\.?\s")
LABEL = re.compile(r"\((?P<label>core|going deeper)(?:, about (?P<minutes>\d+) min)?\)$")
EXERCISE = re.compile(r"^Exercise (?P<id>\d\d\.\d+): .+\((?:core|going deeper), about \d+ min\)$")
STATED = re.compile(
    r"\*\*Time to learn(?:\*\*:|:\*\*) about (?P<total>\d+) min \(core path: about (?P<core>\d+) min\)\."
)


@dataclass(frozen=True)
class LearningTime:
    """A notebook's time by the written method, in minutes: everything, and the core path alone."""

    total: int
    core: int
    words: int
    code_cells: int
    exercise_minutes: int

    def statement(self) -> str:
        """The sentence the title cell must carry."""
        return f"**Time to learn**: about {self.total} min (core path: about {self.core} min)."


def ceil5(minutes: float) -> int:
    """``minutes`` rounded up to a multiple of 5 (at least 5)."""
    return max(5, 5 * math.ceil(round(minutes, 6) / 5))


def heading_label(text: str) -> str | None:
    """``"core"`` or ``"going deeper"`` when a heading ends with that label, else None."""
    found = LABEL.search(text)
    return found.group("label") if found else None


def labelled_headings(nb: nbformat.NotebookNode) -> list[tuple[int, str, str | None]]:
    """``(level, text, label)`` of every markdown heading below the title, in order."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "navigation" in cell.metadata.get("tags", []):
            continue
        for line in cell.source.splitlines():
            heading = HEADING.match(line)
            if heading:
                text = heading.group("text")
                found.append((len(heading.group("level")), text, heading_label(text)))
    return found


def unlabelled_numbered_headings(nb: nbformat.NotebookNode) -> list[str]:
    """Numbered section headings that end with neither ``(core)`` nor ``(going deeper)``.

    A numbered ``##`` heading is exempt when its own numbered subsections carry the labels instead.
    """
    headings = labelled_headings(nb)
    missing = []
    for index, (level, text, label) in enumerate(headings):
        if not NUMBERED.match(text) or label:
            continue
        below = []
        for sub_level, sub_text, sub_label in headings[index + 1 :]:
            if sub_level <= level:
                break
            if NUMBERED.match(sub_text):
                below.append(sub_label)
        if not below or not all(below):
            missing.append(text)
    return missing


def exercise_minutes(text: str) -> int:
    """The minutes an exercise heading states (``... (core, about 10 min)``), else 0."""
    found = LABEL.search(text)
    return int(found.group("minutes")) if found and found.group("minutes") else 0


def learning_time(nb: nbformat.NotebookNode) -> LearningTime:
    """The notebook's time, and its core path's, by the written method."""
    totals = {"words": 0, "cells": 0, "exercise": 0}
    core = {"words": 0, "cells": 0, "exercise": 0}
    deeper = False  # inside a section or exercise labelled (going deeper)
    deeper_level = 0
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if "navigation" in tags:
            continue
        if cell.cell_type == "code":
            if not tags & HIDDEN_TAGS:
                totals["cells"] += 1
                core["cells"] += 0 if deeper else 1
            continue
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = HEADING.match(line)
            if heading:
                level, text = len(heading.group("level")), heading.group("text")
                label = heading_label(text)
                if label is not None:
                    deeper, deeper_level = label == "going deeper", level
                elif deeper and level <= deeper_level:
                    deeper = False  # a new part at the same or a higher level ends the deeper one
                minutes = exercise_minutes(text) if EXERCISE.match(text) else 0
                totals["exercise"] += minutes
                core["exercise"] += 0 if deeper else minutes
            words = len(re.findall(r"[\w'’-]+", line))
            totals["words"] += words
            core["words"] += 0 if deeper else words

    def minutes(part: dict) -> int:
        return ceil5(part["words"] / WORDS_PER_MIN + part["cells"] * MIN_PER_CODE_CELL + part["exercise"])

    return LearningTime(minutes(totals), minutes(core), totals["words"], totals["cells"], totals["exercise"])


def stated_time(nb: nbformat.NotebookNode) -> tuple[int, int] | None:
    """``(total, core)`` minutes as the title cell states them, or None when it states no time that way."""
    found = STATED.search(nb.cells[0].source) if nb.cells else None
    return (int(found.group("total")), int(found.group("core"))) if found else None


def main(selected: list[str]) -> int:
    from notebook_series import chosen

    print("| notebook | time | core path | words | code cells | exercise min |")
    print("|---|---|---|---|---|---|")
    for path in chosen("notebook_time", selected):
        t = learning_time(nbformat.read(Path(path), as_version=4))
        print(f"| {path.stem} | {t.total} min | {t.core} min | {t.words} | {t.code_cells} | {t.exercise_minutes} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
