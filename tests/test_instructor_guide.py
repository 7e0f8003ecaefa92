"""docs/instructor.md: its agendas use the notebooks' stated times, and their clocks add up."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from notebook_time import stated_time

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "instructor.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ROW = re.compile(r"^\| (?:Day \d )?(\d{1,2}):(\d\d) \| (.+?) \| (\d+) \|$")
NOTEBOOK_LINK = re.compile(r"\]\(\.\./notebooks/(\d\d)_[a-z_]+\.ipynb\)")
# The agendas, and how long each runs from its first row to its last (per day for the two-day agenda).
AGENDAS = {"3-hour core session": 180, "Full day": None, "Two days": None}
FOUNDATIONS = ["00", "01", "02", "03", "04", "05"]  # the full day: one server's caching, whole notebooks
CORE_SESSION = "3-hour core session"
CORE_PATHS = {CORE_SESSION, "Full day"}  # these run each notebook's core path; the two days run whole notebooks


def stated_minutes(path: Path) -> tuple[int, int]:
    """The time and core-path time a notebook's title cell states (an old 'N minutes' counts for both)."""
    nb = nbformat.read(path, as_version=4)
    both = stated_time(nb)  # **Time to learn**: about X min (core path: about Y min).
    if both:
        return both
    found = re.search(r"Time to learn:\*\*\s+(\d+)\s+minutes", nb.cells[0].source)
    assert found, f"{path.name}: no '**Time to learn**: about X min (core path: about Y min).' in the title cell"
    return int(found.group(1)), int(found.group(1))


STATED_BOTH = {path.name[:2]: stated_minutes(path) for path in NOTEBOOKS}
STATED = {number: total for number, (total, _core) in STATED_BOTH.items()}
CORE = {number: core for number, (_total, core) in STATED_BOTH.items()}


def agenda_rows(heading: str) -> list[tuple[int, str, int, bool]]:
    """(start in minutes, block, minutes, starts a new day) for each row of the agenda under ``### heading``."""
    text = GUIDE.read_text()
    section = text.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            hours, minutes, block, length = match.groups()
            rows.append((int(hours) * 60 + int(minutes), block, int(length), line.startswith("| Day ")))
    assert rows, f"no agenda table under '### {heading}'"
    return rows


@pytest.mark.parametrize("heading", AGENDAS)
def test_notebook_rows_use_the_stated_times(heading):
    for _, block, minutes, _ in agenda_rows(heading):
        link = NOTEBOOK_LINK.search(block)
        if link:
            number = link.group(1)
            stated = CORE[number] if heading in CORE_PATHS else STATED[number]
            assert minutes == stated, f"{heading}: {number} takes {stated} min, the agenda says {minutes}"


@pytest.mark.parametrize("heading", AGENDAS)
def test_the_clock_adds_up(heading):
    rows = agenda_rows(heading)
    for (start, block, minutes, _), (next_start, next_block, _, new_day) in zip(rows, rows[1:], strict=False):
        if not new_day:
            assert start + minutes == next_start, (
                f"{heading}: {block!r} ends at {start + minutes}, {next_block!r} starts at {next_start}"
            )
    assert rows[-1][2] == 0, "the last row marks the end"
    if AGENDAS[heading] is not None:
        assert rows[-1][0] - rows[0][0] == AGENDAS[heading], f"{heading} runs {rows[-1][0] - rows[0][0]} min"


def test_the_long_agendas_cover_every_notebook_once_and_the_core_session_fits():
    for heading, expected in (("Full day", FOUNDATIONS), ("Two days", sorted(STATED))):
        numbers = [m.group(1) for _, block, _, _ in agenda_rows(heading) if (m := NOTEBOOK_LINK.search(block))]
        assert numbers == expected, f"{heading}: {numbers}"
    core = [m.group(1) for _, block, _, _ in agenda_rows("3-hour core session") if (m := NOTEBOOK_LINK.search(block))]
    assert core == sorted(core) and {"00", "01", "02"} <= set(core)
    assert sum(CORE[number] for number in core) <= 180


def test_every_notebook_has_its_guide_section():
    text = GUIDE.read_text()
    for path in NOTEBOOKS:
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
        number = path.name[:2]
        section = text.split(f"\n### {number} · ", 1)
        assert len(section) == 2, f"no '### {number} · ...' section ({title})"
        body = section[1].split("\n### ", 1)[0]
        for part in ("**Key message:**", "**Run live:**", "**Discuss:**", "**Stumbles:**"):
            assert part in body, f"{number}: missing {part}"
        assert body.split("**Discuss:**", 1)[1].split("\n- ", 1)[0].count("?") >= 2, f"{number}: two questions"
