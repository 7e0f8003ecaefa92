"""Every figure names its backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from helpers.viz.plots import backend_label, bars, figure, replay_figure  # noqa: E402


def test_figure_title_names_the_backend(fake_client):
    fig, axes = figure("Hit ratio", fake_client, ncols=2)
    assert fig.get_suptitle().startswith("Hit ratio (measured on fakeredis ")
    assert len(axes) == 2
    plt.close(fig)


def test_a_label_can_stand_in_for_a_client():
    assert backend_label("simulated") == "simulated"
    fig, ax = figure("Eviction", "simulated")
    assert fig.get_suptitle() == "Eviction (measured on simulated)"
    plt.close(fig)


def test_a_replay_is_not_called_measured(fake_client):
    fig, ax = replay_figure("Race 1", fake_client, height=4.0)
    assert fig.get_suptitle().startswith("Race 1 (replayed step by step on fakeredis ")
    assert "measured" not in fig.get_suptitle() and fig.get_figheight() == 4.0
    plt.close(fig)


def test_bars_are_labelled_with_their_values(fake_client):
    fig, ax = figure("Queries", fake_client)
    drawn = bars(ax, ["a", "b"], [100, 20], colors=["red", "green"], unit="queries")
    assert [bar.get_height() for bar in drawn] == [100, 20]
    assert [text.get_text() for text in ax.texts] == ["100 queries", "20 queries"]
    plt.close(fig)


def test_bars_without_a_unit_have_no_trailing_space(fake_client):
    fig, ax = figure("Ratio", fake_client)
    bars(ax, ["a"], [0.5], colors=["red"], unit="")
    assert [text.get_text() for text in ax.texts] == ["0.5"]
    plt.close(fig)
