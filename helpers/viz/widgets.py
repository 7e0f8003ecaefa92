"""Interactive explorers: sliders that redraw a picture. The logic is in plain functions; the widget only wires them.

``ttl_view`` and ``tradeoff_view`` compute and draw (no widget involved) and are unit-tested.
``Explorer`` connects sliders to such a view: each change re-renders the picture into an ``Image``
widget and a one-line caption, and keeps the numbers in ``explorer.result``. Nothing is printed or
displayed by an update, so a notebook can set the sliders from code (``explorer.set(...)``) and
assert on ``explorer.result``: Run All and nbval need no clicks, and no browser.

An explorer displays as its live widget and, in the same output, a static PNG and caption of its default
state (the picture it first drew), so GitHub, nbviewer and the site, which run no kernel, still show it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from helpers.core.errors import InvalidArgument, require_positive
from helpers.sim.ttl_models import (
    KeyLife,
    fixed_ttl_hit_ratio,
    longest_ttl_for_stale_budget,
    simulate_key_life,
    sliding_ttl_hit_ratio,
    stale_read_share,
)
from helpers.viz.plots import PALETTE

READS_SHOWN = 30  # the TTL explorer draws about this many reads


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (for an Image widget)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# -- 01 · the TTL explorer -------------------------------------------------------------------------
@dataclass(frozen=True)
class TTLView:
    """What the TTL explorer shows for one read rate and TTL: the closed forms and one simulated life per policy."""

    read_rate: float
    ttl_ms: float
    fixed_hit_ratio: float  # λT / (1 + λT)
    sliding_hit_ratio: float  # 1 - exp(-λT)
    fixed: KeyLife
    sliding: KeyLife

    def caption(self) -> str:
        """One line: the inputs, the closed forms, and what the simulated stream got."""
        return (
            f"TTL {self.ttl_ms:.0f} ms, {self.read_rate:.3g} reads/s (λT = {self.read_rate * self.ttl_ms / 1000:.3g}): "
            f"fixed TTL hit ratio {self.fixed_hit_ratio:.0%} (this stream {self.fixed.hit_ratio:.0%}), "
            f"sliding {self.sliding_hit_ratio:.0%} (this stream {self.sliding.hit_ratio:.0%})"
        )


def ttl_view(read_rate: float, ttl_ms: float, *, seed: int = 0) -> tuple[Figure, TTLView]:
    """Draw one key's life under a fixed and a sliding TTL for a seeded read stream (a model: no Redis involved)."""
    require_positive("read_rate", read_rate)
    require_positive("ttl_ms", ttl_ms)
    ttl_s = ttl_ms / 1000.0
    duration_s = min(max(READS_SHOWN / read_rate, 3 * ttl_s), 3600.0)
    view = TTLView(
        read_rate=float(read_rate),
        ttl_ms=float(ttl_ms),
        fixed_hit_ratio=float(fixed_ttl_hit_ratio(read_rate, ttl_s)),
        sliding_hit_ratio=float(sliding_ttl_hit_ratio(read_rate, ttl_s)),
        fixed=simulate_key_life(read_rate, ttl_s, duration_s, seed),
        sliding=simulate_key_life(read_rate, ttl_s, duration_s, seed, sliding=True),
    )
    fig = Figure(figsize=(8.0, 2.6), layout="constrained")
    ax = fig.add_subplot()
    for row, life in enumerate((view.fixed, view.sliding)):
        spans = [(start, end - start) for start, end in life.alive]
        ax.broken_barh(spans, (row - 0.3, 0.6), color=PALETTE["neutral"], alpha=0.25)
        ax.scatter(life.read_times[life.hits], np.full(life.hits.sum(), row), marker="o", s=18,
                   color=PALETTE["fast"], label="hit" if row == 0 else None)  # fmt: skip
        ax.scatter(life.read_times[~life.hits], np.full((~life.hits).sum(), row), marker="x", s=28,
                   color=PALETTE["slow"], label="miss: read the database" if row == 0 else None)  # fmt: skip
        ax.annotate(f"{life.hit_ratio:.0%} hits", (duration_s, row), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=9)  # fmt: skip
    ax.set(yticks=[0, 1], yticklabels=["fixed TTL", "sliding TTL"], xlim=(0, duration_s), ylim=(-0.7, 1.7),
           xlabel="seconds (shaded: the key is in the cache)")  # fmt: skip
    ax.legend(loc="upper left", ncols=2, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"One key's life: TTL {ttl_ms:.0f} ms, {read_rate:.3g} reads/s (simulated)")
    return fig, view


# -- 02 · the freshness trade-off ------------------------------------------------------------------
@dataclass(frozen=True)
class TradeoffView:
    """What the trade-off explorer shows for one read rate, update rate and TTL (closed forms)."""

    read_rate: float
    update_rate: float
    ttl_s: float
    hit_ratio: float
    stale_share: float
    stale_budget: float
    longest_ttl_s: float  # the longest TTL within the stale budget

    def caption(self) -> str:
        """One line: the hit ratio and stale share at this TTL, and the longest TTL within the budget."""
        return (
            f"TTL {self.ttl_s:.3g} s with {self.read_rate:.3g} reads/s and {self.update_rate:.3g} updates/s: "
            f"hit ratio {self.hit_ratio:.1%}, stale reads {self.stale_share:.2%}. "
            f"Longest TTL for at most {self.stale_budget:.0%} stale reads: {self.longest_ttl_s:.3g} s"
        )


def tradeoff_view(
    read_rate: float, update_rate: float, ttl_s: float, *, stale_budget: float = 0.01
) -> tuple[Figure, TradeoffView]:
    """Draw hit ratio and stale-read share against the TTL (log scale), marking ``ttl_s`` and the budget's TTL."""
    require_positive("read_rate", read_rate)
    require_positive("update_rate", update_rate)
    require_positive("ttl_s", ttl_s)
    view = TradeoffView(
        read_rate=float(read_rate),
        update_rate=float(update_rate),
        ttl_s=float(ttl_s),
        hit_ratio=float(fixed_ttl_hit_ratio(read_rate, ttl_s)),
        stale_share=float(stale_read_share(read_rate, update_rate, ttl_s)),
        stale_budget=stale_budget,
        longest_ttl_s=longest_ttl_for_stale_budget(read_rate, update_rate, stale_budget),
    )
    low = min(ttl_s, view.longest_ttl_s, 0.1 / read_rate) / 3
    high = max(ttl_s, view.longest_ttl_s, 10 / update_rate) * 3
    ttls = np.geomspace(low, high, 200)
    fig = Figure(figsize=(8.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(ttls, fixed_ttl_hit_ratio(read_rate, ttls), color=PALETTE["fast"], label="hit ratio")
    ax.plot(ttls, stale_read_share(read_rate, update_rate, ttls), color=PALETTE["slow"], label="stale reads")
    ax.axvline(ttl_s, color=PALETTE["neutral"], linestyle="--", label=f"your TTL: {ttl_s:.3g} s")
    ax.axvline(view.longest_ttl_s, color=PALETTE["muted"], linestyle=":",
               label=f"longest TTL for ≤ {stale_budget:.0%} stale: {view.longest_ttl_s:.3g} s")  # fmt: skip
    ax.set(xscale="log", ylim=(0, 1.02), xlabel="TTL (seconds, log scale)", ylabel="share of reads")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{read_rate:.3g} reads/s, {update_rate:.3g} updates/s per key (closed forms)")
    return fig, view


# -- the widget -------------------------------------------------------------------------------------
class Explorer:
    """Sliders wired to a view function ``render(**values) -> (Figure, result)``; ``result`` keeps the numbers."""

    def __init__(
        self, title: str, render: Callable[..., tuple[Figure, Any]], sliders: Mapping[str, widgets.ValueWidget]
    ) -> None:
        self.render = render
        self.sliders = dict(sliders)
        self.caption = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.widget = widgets.VBox([widgets.HTML(f"<b>{title}</b>"), *self.sliders.values(), self.caption, self.image])
        self.result: Any = None
        self._holding = False
        for slider in self.sliders.values():
            slider.observe(self._on_change, names="value")
        self.refresh()
        self.default_png = bytes(self.image.value)  # the default state, stored with the widget's output
        self.default_caption = self.caption.value

    @property
    def values(self) -> dict[str, Any]:
        """The sliders' current values, by name."""
        return {name: slider.value for name, slider in self.sliders.items()}

    def set(self, **values: Any) -> Any:
        """Move some sliders (as a learner would), redraw once, and return the new result."""
        unknown = sorted(set(values) - set(self.sliders))
        if unknown:
            raise InvalidArgument(f"This explorer has the sliders {sorted(self.sliders)}; got {unknown}.")
        self._holding = True
        try:
            for name, value in values.items():
                slider = self.sliders[name]
                low, high = getattr(slider, "min", None), getattr(slider, "max", None)
                if isinstance(slider, widgets.FloatLogSlider):
                    low, high = slider.base**slider.min, slider.base**slider.max
                if low is not None and not low <= value <= high:
                    raise InvalidArgument(f"{name} must be between {low:g} and {high:g}, got {value!r}.")
                slider.value = value
        finally:
            self._holding = False
        return self.refresh()

    def refresh(self) -> Any:
        """Render the view for the current values into the picture and the caption; return the result."""
        fig, self.result = self.render(**self.values)
        self.image.value = figure_png(fig)
        self.caption.value = self.result.caption()
        return self.result

    def _on_change(self, _change: dict) -> None:
        if not self._holding:
            self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["image/png"] = base64.b64encode(self.default_png).decode("ascii")
        bundle["text/plain"] = f"{self.default_caption} (a static picture of the explorer's default state)"
        return bundle


def ttl_explorer(read_rate: float = 4.0, ttl_ms: float = 500.0) -> Explorer:
    """The TTL explorer of notebook 01: a read rate and a TTL, one key's life under fixed and sliding TTL."""
    sliders = {
        "read_rate": widgets.FloatLogSlider(value=read_rate, base=10, min=-1, max=2, step=0.05,
                                            description="reads/s", readout_format=".3g"),
        "ttl_ms": widgets.FloatLogSlider(value=ttl_ms, base=10, min=1, max=4, step=0.05,
                                         description="TTL (ms)", readout_format=".4g"),
    }  # fmt: skip
    return Explorer("TTL explorer: move the sliders", ttl_view, sliders)


def tradeoff_explorer(read_rate: float = 2.0, update_rate: float = 0.01, ttl_s: float = 60.0) -> Explorer:
    """The trade-off explorer of notebook 02: read rate, update rate and TTL; hit ratio against stale reads."""
    sliders = {
        "read_rate": widgets.FloatLogSlider(value=read_rate, base=10, min=-2, max=2, step=0.05,
                                            description="reads/s", readout_format=".3g"),
        "update_rate": widgets.FloatLogSlider(value=update_rate, base=10, min=-4, max=1, step=0.05,
                                              description="updates/s", readout_format=".3g"),
        "ttl_s": widgets.FloatLogSlider(value=ttl_s, base=10, min=-2, max=4, step=0.05,
                                        description="TTL (s)", readout_format=".3g"),
    }  # fmt: skip
    return Explorer("Freshness trade-off: move the sliders", tradeoff_view, sliders)
