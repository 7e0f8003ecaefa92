"""Notebook 06's race picture: the reply and the invalidation crossing on their two connections.

``crossing_diagram(ax, replay)`` draws a ``StagedCrossing`` as lanes (A's near cache, A's listener,
Redis, the writer), one row per step from top to bottom. The reply to A's read leaves Redis at the
SEND step and reaches A at the RECEIVE step; the invalidation leaves Redis at the WRITE step and
reaches the listener at the DELIVER step. When DELIVER comes before RECEIVE the two arrows cross:
that is the race. It returns the drawn messages, so a notebook can assert what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch

from helpers.core.errors import InvalidArgument
from helpers.harness.near_cache_race import DELIVER, RECEIVE, SEND, WRITE, StagedCrossing
from helpers.viz.plots import PALETTE

LANES = {"near cache": 0.0, "listener": 1.9, "Redis": 4.4, "writer": 6.1}
LANE_TITLES = {"near cache": "A: near cache", "listener": "A: listener", "Redis": "Redis", "writer": "writer"}
REPLY_COLOR, PUSH_COLOR, WRITE_COLOR = PALETTE["neutral"], PALETTE["slow"], "#b5651d"


@dataclass(frozen=True)
class Message:
    """One drawn arrow: what it carries, from which lane to which, and the rows it leaves and arrives at."""

    label: str
    source: str
    target: str
    sent_at: float
    arrived_at: float


def crossing_diagram(ax: Axes, replay: StagedCrossing) -> list[Message]:
    """Draw ``replay`` on ``ax``; return the messages drawn (reply, write, invalidation), in that order."""
    if not isinstance(replay, StagedCrossing):
        raise InvalidArgument(f"crossing_diagram() draws a StagedCrossing, got {type(replay)!r}.")
    row = {step.name: step.index for step in replay.steps}
    bottom = len(replay.steps) + 1.0
    for lane, x in LANES.items():
        ax.plot([x, x], [0.5, bottom - 0.4], color="#555555" if lane == "Redis" else "#bbbbbb", lw=1.2, zorder=1)
        ax.text(x, 0.1, LANE_TITLES[lane], ha="center", va="center", fontsize=8.5, weight="bold",
                bbox={"boxstyle": "round,pad=0.3", "fc": "#f4f4f4", "ec": "#777777"})  # fmt: skip
    state_x = LANES["writer"] + 0.7
    ax.text(state_x, 0.1, "near cache holds", ha="left", va="center", fontsize=8.5, weight="bold")
    for step in replay.steps:
        ax.text(-0.45, step.index, str(step.index), ha="right", va="center", fontsize=8, color="#777777")
        ax.text(state_x, step.index, step.local_after, ha="left", va="center", fontsize=8)
    command = replay.read_command.split()[0]
    messages = [
        Message(command, "near cache", "Redis", row[SEND], row[SEND]),
        Message(f"reply {replay.old_value!r}", "Redis", "near cache", row[SEND], row[RECEIVE]),
        Message(f"SET {replay.new_value!r}", "writer", "Redis", row[WRITE], row[WRITE]),
    ]
    delivered = replay.steps[row[DELIVER] - 1].detail.startswith("invalidate")
    if delivered:
        messages.append(Message("invalidate", "Redis", "listener", row[WRITE], row[DELIVER]))
        messages.append(Message("handler", "listener", "near cache", row[DELIVER], row[DELIVER]))
    else:
        ax.text(LANES["listener"], row[DELIVER], "nothing yet", ha="center", va="center", fontsize=7.5,
                style="italic", color="#777777")  # fmt: skip
    for message in messages:
        color = {"near cache": REPLY_COLOR, "writer": WRITE_COLOR}.get(message.source, PUSH_COLOR)
        if message.label.startswith("reply"):
            color = REPLY_COLOR
        travels = message.arrived_at != message.sent_at  # drawn slanted: it is on the wire between two steps
        _arrow(ax, message, color, dashed=travels)
    stale = replay.delivered and replay.stale_reads_after > 0
    ax.text((LANES["near cache"] + state_x) / 2, bottom - 0.1, replay.verdict, ha="center", va="center",
            fontsize=8.5, weight="bold", color=PALETTE["slow"] if stale else PALETTE["fast"], wrap=True)  # fmt: skip
    ax.set_xlim(-0.7, state_x + 1.6)
    ax.set_ylim(bottom + 0.3, -0.3)
    ax.axis("off")
    return messages


def _arrow(ax: Axes, message: Message, color: str, *, dashed: bool) -> None:
    lift = 0.12 if message.arrived_at != message.sent_at else 0.0  # leaves just after the step that sent it
    start, end = (LANES[message.source], message.sent_at + lift), (LANES[message.target], message.arrived_at)
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=color, lw=1.3,
                                 linestyle="--" if dashed else "-", zorder=2))  # fmt: skip
    along = 0.25 if message.label.startswith("reply") else 0.5  # keep the two crossing labels apart
    at = (start[0] + along * (end[0] - start[0]), start[1] + along * (end[1] - start[1]))
    ax.text(*at, message.label, ha="center", va="center", fontsize=7.5, color=color, zorder=3,
            bbox={"fc": "white", "ec": "none", "pad": 0.3, "alpha": 0.9})  # fmt: skip
