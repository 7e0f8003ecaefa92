"""The over-time figure draws one line per curve and one panel per source, and marks the spans."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.core.errors import InvalidArgument  # noqa: E402
from helpers.viz.eviction_change_plots import over_time_figure  # noqa: E402


def test_one_panel_per_source_one_line_per_curve():
    panels = {
        "simulator": {"LRU (sim)": np.array([0.4, 0.1, 0.4]), "LFU (sim)": np.array([0.5, 0.45, 0.5])},
        "Redis 7.0.15": {"LRU": np.array([0.3, 0.1, 0.3])},
    }
    fig, drawn = over_time_figure("A scan", panels, window=1_000, marks=[(1_000, 2_000, "scan"), (500, 500, "x")])
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["simulator", "Redis 7.0.15"]
    assert [len(ax.lines) for ax in axes] == [2 + 1, 1 + 1]  # the curves, plus the vertical mark
    assert np.allclose(axes[0].lines[0].get_xdata(), [500, 1_500, 2_500])  # each window at its middle
    assert drawn["Redis 7.0.15"]["LRU"].tolist() == [0.3, 0.1, 0.3]
    assert axes[0].lines[0].get_color() != axes[0].lines[1].get_color()
    plt.close(fig)


def test_empty_panels_are_refused():
    with pytest.raises(InvalidArgument):
        over_time_figure("nothing", {}, window=10)
    with pytest.raises(InvalidArgument):
        over_time_figure("nothing", {"simulator": {}}, window=10)
