"""Notebook 09's figure: hit ratio over time, one line per policy, one panel per engine (simulator, server).

``over_time_figure(title, panels, window=..., marks=...)`` draws each panel's curves (per-window hit ratios,
``sim.cache_models.hit_ratio_over_time``) against the request count, shades the marked spans (a shift,
a scan) and names each panel's source, so a simulated line is never mistaken for a measured one. It
returns the figure and, per panel, the curves it drew, so a notebook can assert what it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers.core.errors import InvalidArgument, require_whole
from helpers.viz.plots import PALETTE

CURVE_COLORS = {
    "LRU": PALETTE["neutral"],
    "LFU": PALETTE["fast"],
    "exact LRU": PALETTE["muted"],
    "SIEVE": "#b5651d",
    "S3-FIFO": "#7a4fa0",
}
FALLBACK_COLORS = ["#d4a017", "#2b8a9e", "#c4473a", "#555555"]


def _color(label: str, index: int) -> str:
    for name, color in CURVE_COLORS.items():
        if label == name or label.startswith(name + " "):
            return color
    return FALLBACK_COLORS[index % len(FALLBACK_COLORS)]


def over_time_figure(
    title: str,
    panels: Mapping[str, Mapping[str, np.ndarray]],
    *,
    window: int,
    marks: Sequence[tuple[int, int, str]] = (),
) -> tuple[Figure, dict[str, dict[str, np.ndarray]]]:
    """One panel per source (its name is the panel's title), one line per policy; ``marks`` are (start, stop, label)."""
    window = require_whole("window", window, minimum=1)
    if not panels or any(not curves for curves in panels.values()):
        raise InvalidArgument("over_time_figure needs at least one panel, each with at least one curve.")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 0.6, 3.6), layout="constrained", sharey=True)
    axes = np.atleast_1d(axes)
    fig.suptitle(title)
    drawn: dict[str, dict[str, np.ndarray]] = {}
    for ax, (source, curves) in zip(axes, panels.items(), strict=True):
        drawn[source] = {}
        for index, (label, ratios) in enumerate(curves.items()):
            ratios = np.asarray(ratios, dtype=float)
            x = window * (np.arange(len(ratios)) + 0.5)
            dashed = label.startswith("exact")
            ax.plot(x, ratios, "--" if dashed else "-", color=_color(label, index), lw=1.6, label=label)
            drawn[source][label] = ratios
        for start, stop, text in marks:
            if stop > start:
                ax.axvspan(start, stop, color="#eeeeee", zorder=0)
            else:
                ax.axvline(start, color="#777777", ls=":", lw=1)
            ax.annotate(text, (start, 0.02), fontsize=8, color="#555555", xytext=(3, 0), textcoords="offset points")
        ax.set(title=source, xlabel="requests", ylim=(0, 1))
        ax.title.set_fontsize(9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7.5, loc="upper right")
    axes[0].set_ylabel(f"hit ratio per {window:,} requests")
    return fig, drawn
