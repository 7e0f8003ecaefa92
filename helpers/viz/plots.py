"""Small matplotlib helpers. Every figure names the backend its numbers came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import redis
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from helpers.core.backend import backend_info

PALETTE = {"slow": "#c4473a", "fast": "#2f7d5b", "neutral": "#4a6fa5", "muted": "#9a9a9a"}


def backend_label(source: redis.Redis | str) -> str:
    """'fakeredis 2.41.0', 'Redis 7.0.15', or a label passed as a string (e.g. 'simulated')."""
    return source if isinstance(source, str) else backend_info(source).label


def figure(
    title: str, source: redis.Redis | str, *, ncols: int = 1, width: float = 9.0, height: float = 3.4
) -> tuple[Figure, Any]:
    """A figure with ``ncols`` axes whose title ends with the backend, e.g. '... (measured on Redis 7.0.15)'."""
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), layout="constrained")
    fig.suptitle(f"{title} (measured on {backend_label(source)})")
    return fig, axes


def replay_figure(title: str, source: redis.Redis | str, *, height: float = 3.4) -> tuple[Figure, Axes]:
    """One axes for a scripted, deterministic replay: '... (replayed step by step on Redis 7.0.15)', not 'measured'."""
    fig, ax = plt.subplots(figsize=(9.0, height), layout="constrained")
    fig.suptitle(f"{title} (replayed step by step on {backend_label(source)})")
    return fig, ax


def bars(
    ax: Axes, labels: Sequence[str], values: Sequence[float], *, colors: Sequence[str], unit: str, fmt: str = "{:g}"
) -> BarContainer:
    """A labelled bar chart: one bar per label, its value printed above it."""
    drawn = ax.bar(labels, values, color=colors)
    for bar, value in zip(drawn, values, strict=True):
        ax.annotate(
            fmt.format(value) + (f" {unit}" if unit else ""),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(y=0.2)
    return drawn
