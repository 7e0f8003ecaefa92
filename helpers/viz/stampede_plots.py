"""The pictures of notebook 05: database calls over time, the pile-up and its estimate, the ladder, XFetch, jitter.

Each function draws on axes made by ``helpers.viz.plots.figure`` (so the figure names its backend) and
returns the numbers it drew, so the notebook can assert on the data behind every picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from helpers.core.errors import InvalidArgument
from helpers.harness.herd_results import HerdResult
from helpers.sim.xfetch import XFetchOutcome
from helpers.viz.plots import PALETTE, bars


def plot_in_flight(ax: Axes, result: HerdResult, *, label: str, color: str = PALETTE["slow"]) -> np.ndarray:
    """Database queries in flight over time, with the expiry marked; returns the counts drawn (1 ms steps)."""
    times, counts = result.in_flight(step_ms=1.0)
    ax.step(times, counts, where="post", color=color, label=label)
    if result.expires_at_s is not None:
        ax.axvline(result.expires_at_s * 1000.0, color=PALETTE["muted"], linestyle="--", label="the key expires")
    ax.set(xlabel="ms since the herd was released", ylabel="database queries in flight")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", fontsize=8)
    return counts


def plot_pile_up(ax: Axes, estimates: Sequence[float], measured: Sequence[int], *, clients: int) -> tuple[list, list]:
    """Measured recomputations per expiry against the estimate rate x recompute time, capped at ``clients``."""
    if len(estimates) != len(measured) or not estimates:
        raise InvalidArgument("plot_pile_up needs one measured count per estimate (and at least one).")
    right = max(max(estimates), clients) * 1.1
    top = max(max(measured), clients) * 1.3
    line = np.linspace(0.0, right, 100)
    ax.plot(line, line, color=PALETTE["muted"], linestyle=":", label="estimate: rate × recompute time")
    ax.plot(line, np.minimum(line, clients), color=PALETTE["neutral"], label=f"capped at {clients} clients")
    ax.scatter(estimates, measured, color=PALETTE["slow"], zorder=3, label="measured")
    ax.set(xlabel="read rate × recompute time", ylabel="recomputations per expiry", xlim=(0, right), ylim=(0, top))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", fontsize=8)
    return list(estimates), list(measured)


def plot_ladder(axes: Sequence, results: Mapping[str, HerdResult], colors: Sequence[str]) -> dict[str, list]:
    """Four panels, one bar per rung: recomputations, reads that waited, p99 latency, stale reads served."""
    if len(axes) != 4:
        raise InvalidArgument("plot_ladder draws four panels: pass the four axes of figure(..., ncols=4).")
    names = list(results)
    drawn = {
        "recomputations": [results[name].recomputations for name in names],
        "reads that waited": [results[name].reads_that_waited for name in names],
        "p99 read latency (ms)": [results[name].latency.p99_ms for name in names],
        "stale reads served": [results[name].stale_reads for name in names],
    }
    for ax, (title, values) in zip(axes, drawn.items(), strict=True):
        fmt = "{:.2g}" if "latency" in title else "{:d}"
        bars(ax, names, values, colors=list(colors), unit="", fmt=fmt)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    return drawn


def plot_xfetch_sweep(axes: Sequence, outcomes: Sequence[XFetchOutcome]) -> dict[str, np.ndarray]:
    """Left: recomputations per expiry with e^(1/beta) overlaid. Right: how early the refresh starts."""
    if len(axes) != 2 or not outcomes:
        raise InvalidArgument("plot_xfetch_sweep needs two axes and at least one outcome.")
    betas = np.array([o.beta for o in outcomes])
    per_expiry = np.array([o.recomputations_per_expiry for o in outcomes])
    leads = np.array([o.lead_ms for o in outcomes])
    smooth = np.linspace(betas.min(), betas.max(), 100)
    left, right = axes
    left.plot(smooth, np.exp(1.0 / smooth), color=PALETTE["muted"], linestyle="--", label="expected: e^(1/β)")
    left.scatter(betas, per_expiry, color=PALETTE["slow"], zorder=3, label="simulated")
    left.set(xlabel="β", ylabel="recomputations per expiry", yscale="log")
    ticks = [t for t in (1, 2, 3, 5, 10, 20, 50, 100) if t <= max(per_expiry.max(), 1.0) * 1.5]
    left.set_yticks(ticks, [str(t) for t in ticks])
    left.minorticks_off()
    left.legend(fontsize=8)
    right.plot(betas, leads, marker="o", color=PALETTE["neutral"], label="first refresh starts")
    for outcome in outcomes:
        if outcome.miss_share > 0:
            right.annotate(
                f"real misses in {outcome.miss_share:.0%}\nof expiries",
                (outcome.beta, outcome.lead_ms),
                xytext=(0, 45),
                textcoords="offset points",
                fontsize=8,
                arrowprops={"arrowstyle": "->", "color": PALETTE["slow"]},
                color=PALETTE["slow"],
            )
    right.set(xlabel="β", ylabel="ms before expiry (cache life given up)")
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return {"beta": betas, "recomputations per expiry": per_expiry, "lead ms": leads}


def plot_expiry_spread(
    ax: Axes, expiries_s: Mapping[str, Sequence[float]], *, bin_s: float = 0.5
) -> dict[str, np.ndarray]:
    """Histogram of when keys expire (seconds from now), one series per label; returns the counts per bin."""
    if not expiries_s:
        raise InvalidArgument("plot_expiry_spread needs at least one series of expiry times.")
    everything = np.concatenate([np.asarray(v, dtype=float) for v in expiries_s.values()])
    edges = np.arange(np.floor(everything.min()), np.ceil(everything.max()) + bin_s, bin_s)
    counts = {}
    colors = [PALETTE["slow"], PALETTE["fast"], PALETTE["neutral"]]
    for (label, values), color in zip(expiries_s.items(), colors, strict=False):
        counts[label], _ = np.histogram(values, bins=edges)
        ax.hist(values, bins=edges, color=color, alpha=0.75, label=label)
    ax.set(xlabel="seconds from now until the key expires", ylabel=f"keys expiring per {bin_s:g} s")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8)
    return counts
