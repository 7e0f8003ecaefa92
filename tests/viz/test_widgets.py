"""The explorers: views computed without a browser, and sliders that redraw them (set from code, as a notebook does)."""

from __future__ import annotations

import base64

import matplotlib.pyplot as plt
import pytest

from helpers.core.errors import InvalidArgument
from helpers.sim.ttl_models import fixed_ttl_hit_ratio, longest_ttl_for_stale_budget, sliding_ttl_hit_ratio
from helpers.viz.widgets import figure_png, tradeoff_explorer, tradeoff_view, ttl_explorer, ttl_view

PNG = b"\x89PNG\r\n\x1a\n"


class TestViews:
    def test_ttl_view_has_the_closed_forms_and_two_lives(self):
        fig, view = ttl_view(4, 500)
        assert view.fixed_hit_ratio == pytest.approx(fixed_ttl_hit_ratio(4, 0.5))
        assert view.sliding_hit_ratio == pytest.approx(sliding_ttl_hit_ratio(4, 0.5))
        assert not view.fixed.sliding and view.sliding.sliding
        assert 15 <= view.fixed.read_times.size <= 50  # about READS_SHOWN reads are drawn
        assert len(fig.axes) == 1 and figure_png(fig).startswith(PNG)
        assert "TTL 500 ms" in view.caption() and "fixed TTL hit ratio 67%" in view.caption()

    def test_ttl_view_is_reproducible(self):
        assert ttl_view(2, 300)[1].caption() == ttl_view(2, 300)[1].caption()

    def test_tradeoff_view_marks_the_budget_ttl(self):
        fig, view = tradeoff_view(2, 1 / 600, 60, stale_budget=0.01)
        assert view.longest_ttl_s == pytest.approx(longest_ttl_for_stale_budget(2, 1 / 600, 0.01))
        assert view.hit_ratio == pytest.approx(fixed_ttl_hit_ratio(2, 60))
        assert view.stale_share > 0.01 > 0  # 60 s is over this budget
        assert "Longest TTL for at most 1% stale reads: 12.6 s" in view.caption()
        assert len(fig.axes) == 1

    @pytest.mark.parametrize(("args", "message"), [((0, 500), "read_rate"), ((2, -1), "ttl_ms")])
    def test_ttl_view_bad_input(self, args, message):
        with pytest.raises(InvalidArgument, match=message):
            ttl_view(*args)

    def test_tradeoff_view_bad_input(self):
        with pytest.raises(InvalidArgument, match="update_rate must be > 0"):
            tradeoff_view(2, 0, 60)

    def test_views_leave_no_pyplot_figure_behind(self):
        before = plt.get_fignums()
        ttl_view(4, 500)
        tradeoff_view(2, 0.01, 60)
        assert plt.get_fignums() == before  # nothing for the inline backend to display by itself


class TestExplorer:
    def test_set_redraws_once_and_returns_the_new_view(self):
        explorer = ttl_explorer()
        first_png = bytes(explorer.image.value)
        view = explorer.set(read_rate=2, ttl_ms=2000)
        assert explorer.values == {"read_rate": 2, "ttl_ms": 2000}
        assert view is explorer.result and view.fixed_hit_ratio == pytest.approx(0.8)
        assert explorer.caption.value == view.caption()
        assert bytes(explorer.image.value).startswith(PNG) and bytes(explorer.image.value) != first_png

    def test_moving_a_slider_redraws(self):
        explorer = tradeoff_explorer()
        explorer.sliders["ttl_s"].value = 5.0  # what a drag in the browser does in the kernel
        assert explorer.result.ttl_s == 5.0 and "TTL 5 s" in explorer.caption.value

    def test_unknown_slider_and_out_of_range_values_are_refused(self):
        explorer = tradeoff_explorer()
        with pytest.raises(InvalidArgument, match="sliders"):
            explorer.set(speed=3)
        with pytest.raises(InvalidArgument, match="ttl_s must be between"):
            explorer.set(ttl_s=1e6)
        assert explorer.values["ttl_s"] == 60  # nothing changed

    def test_displays_as_its_widget(self):
        explorer = ttl_explorer()
        default = bytes(explorer.image.value)
        explorer.set(ttl_ms=2000)
        bundle = explorer._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert base64.b64decode(bundle["image/png"]) == default != bytes(explorer.image.value)  # the default state
        assert "TTL 500 ms" in bundle["text/plain"] and "static picture" in bundle["text/plain"]
