"""Draw what happened: an interleaved race as a sequence diagram, and small boxes-and-arrows pictures.

``sequence_diagram(ax, interleaving)`` puts the cache and the database as two lifelines in the middle,
each actor (thread) as a lane on either side, one arrow per step from top to bottom, and what the
cache holds after each step in a column on the right. An actor keeps its side and colour from one
diagram to the next: readers on the left, then the others in the order they first act. Labels too long
for one line wrap onto a second, and sit on white so that no lifeline runs through them.
``flow_diagram(ax, boxes, arrows)`` draws labelled boxes joined by labelled arrows. Both return what
they drew, so a notebook can assert it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from helpers.core.errors import InvalidArgument
from helpers.harness.interleaving import CACHE, DATABASE, Interleaving
from helpers.viz.plots import PALETTE

ACTOR_COLORS = ["#4a6fa5", "#b5651d", "#7b4f9d", "#2f7d5b"]
LIFELINE_NAMES = {CACHE: "Redis (cache)", DATABASE: "database"}
_LINE = 46  # characters per line of a step's label; two lines at most
_BOX_W, _BOX_H = 0.9, 0.32  # half the width and half the height of a flow-diagram box


@dataclass(frozen=True)
class Arrow:
    """One drawn message: the step it shows and the lanes it joins (x positions)."""

    step: int
    start_x: float
    end_x: float
    color: str


def sequence_diagram(ax: Axes, interleaving: Interleaving) -> list[Arrow]:
    """Draw ``interleaving`` on ``ax`` as a sequence diagram; return one Arrow per step, in order."""
    if not isinstance(interleaving, Interleaving):
        raise InvalidArgument(
            f"sequence_diagram() draws an Interleaving (the result of interleave(...)), got {type(interleaving)!r}."
        )
    actors = _by_side(interleaving.actors())
    lanes = _lanes(actors)
    n = len(interleaving.steps)
    bottom = n + 1.4
    for name, x in lanes.items():
        is_lifeline = name in LIFELINE_NAMES
        ax.plot([x, x], [0.45, bottom - 0.5], color="#555555" if is_lifeline else "#bbbbbb",
                lw=1.6 if is_lifeline else 1.0, ls="-" if is_lifeline else ":", zorder=1)  # fmt: skip
        color = _actor_color(actors, name) if not is_lifeline else "#333333"
        ax.text(x, 0.1, LIFELINE_NAMES.get(name, name), ha="center", va="center", fontsize=9, weight="bold",
                color=color, bbox={"boxstyle": "round,pad=0.3", "fc": "#f4f4f4", "ec": color})  # fmt: skip
    state_x = max(lanes.values()) + 0.55
    ax.text(state_x, 0.1, "cache holds", ha="left", va="center", fontsize=9, weight="bold", color="#333333")
    drawn = []
    for step in interleaving.steps:
        y = step.index
        start, end = lanes[step.actor], lanes[step.target]
        color = _actor_color(actors, step.actor)
        ax.add_patch(FancyArrowPatch((start, y), (end, y), arrowstyle="-|>", mutation_scale=10, color=color, lw=1.3))
        middle = (start + end) / 2
        ax.text(middle, y - 0.1, _wrapped(step.command), ha="center", va="bottom", fontsize=7.5, color=color,
                bbox={"fc": "white", "ec": "none", "pad": 0.4}, zorder=3)  # fmt: skip
        ax.text(middle, y + 0.08, _wrapped("→ " + step.result), ha="center", va="top", fontsize=7,
                style="italic", color="#444444", bbox={"fc": "white", "ec": "none", "pad": 0.3}, zorder=3)  # fmt: skip
        ax.text(-0.55, y, str(step.index), ha="right", va="center", fontsize=7.5, color="#777777")
        ax.text(state_x, y, step.cache_after, ha="left", va="center", fontsize=8, color="#333333")
        drawn.append(Arrow(step.index, start, end, color))
    verdict_color = PALETTE["fast"] if interleaving.consistent else PALETTE["slow"]
    ax.text((min(lanes.values()) + state_x) / 2, bottom - 0.15, interleaving.verdict, ha="center", va="center",
            fontsize=9, weight="bold", color=verdict_color)  # fmt: skip
    ax.set_xlim(-0.8, state_x + 1.3)
    ax.set_ylim(bottom + 0.2, -0.4)
    ax.axis("off")
    return drawn


def sequence_height(interleaving: Interleaving) -> float:
    """A figure height (inches) that fits ``interleaving``'s steps (more per step when a label wraps)."""
    wraps = any(len(step.command) > _LINE or len(step.result) + 2 > _LINE for step in interleaving.steps)
    return 1.4 + (0.55 if wraps else 0.42) * (len(interleaving.steps) + 1)


def flow_diagram(
    ax: Axes,
    boxes: Mapping[str, tuple[float, float, str]],
    arrows: Sequence[tuple[str, str, str]],
) -> list[tuple[str, str]]:
    """Draw ``boxes`` (name -> (x, y, text)) joined by ``arrows`` ((from, to, label)); return the drawn pairs."""
    for start, end, _label in arrows:
        for name in (start, end):
            if name not in boxes:
                raise InvalidArgument(f"arrow ({start!r} -> {end!r}) names an unknown box {name!r}: add it to boxes.")
    for _name, (x, y, text) in boxes.items():
        ax.add_patch(FancyBboxPatch((x - _BOX_W, y - _BOX_H), 2 * _BOX_W, 2 * _BOX_H, boxstyle="round,pad=0.05",
                                    fc="#f4f4f4", ec=PALETTE["neutral"], lw=1.2))  # fmt: skip
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5)
    drawn = []
    for start, end, label in arrows:
        (x0, y0, _), (x1, y1, _) = boxes[start], boxes[end]
        tail, head = _box_edge((x0, y0), (x1, y1)), _box_edge((x1, y1), (x0, y0))
        ax.add_patch(FancyArrowPatch(tail, head, arrowstyle="-|>", mutation_scale=12, shrinkA=1, shrinkB=1,
                                     color=PALETTE["neutral"], lw=1.3))  # fmt: skip
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, ha="center", va="bottom", fontsize=7.5,
                color="#333333", bbox={"fc": "white", "ec": "none", "pad": 0.5})  # fmt: skip
        drawn.append((start, end))
    xs = [x for x, _, _ in boxes.values()]
    ys = [y for _, y, _ in boxes.values()]
    ax.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.axis("off")
    return drawn


def _box_edge(center: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a box's center toward ``toward`` leaves the box (with a small gap)."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    if dx == 0 and dy == 0:
        return center
    scale = min(
        (_BOX_W + 0.1) / abs(dx) if dx else float("inf"),
        (_BOX_H + 0.1) / abs(dy) if dy else float("inf"),
    )
    return center[0] + dx * scale, center[1] + dy * scale


def _lanes(actors: list[str]) -> dict[str, float]:
    """x positions: the first actor, the cache, the database, then the other actors."""
    lanes = {actors[0]: 0.0, CACHE: 1.6, DATABASE: 3.2} if actors else {CACHE: 1.6, DATABASE: 3.2}
    for offset, name in enumerate(actors[1:]):
        lanes[name] = 4.8 + 1.2 * offset
    return lanes


def _by_side(actors: list[str]) -> list[str]:
    """Readers first (the left lane, the first colour), then the others in the order they first act."""
    return sorted(actors, key=lambda name: not name.startswith("reader"))


def _actor_color(actors: list[str], name: str) -> str:
    return ACTOR_COLORS[actors.index(name) % len(ACTOR_COLORS)]


def _wrapped(text: str) -> str:
    """At most two lines of ``_LINE`` characters; only a label longer than that loses its end."""
    lines = textwrap.wrap(text, _LINE, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: _LINE - 3] + "..."]
    return "\n".join(lines)
