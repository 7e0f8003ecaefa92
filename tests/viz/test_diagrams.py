"""The sequence diagram draws one arrow per step between the right lanes; flow diagrams check their arrows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers.core.errors import InvalidArgument  # noqa: E402
from helpers.harness.interleaving import Interleaving, Step  # noqa: E402
from helpers.viz.diagrams import _box_edge, flow_diagram, sequence_diagram, sequence_height  # noqa: E402


def an_interleaving(consistent: bool) -> Interleaving:
    steps = [
        Step(1, "reader", "cache", "GET user:1", "miss", "(empty)"),
        Step(2, "reader", "database", "SELECT user 1", "Quito v1", "(empty)"),
        Step(3, "writer", "database", "UPDATE user 1 SET city=Osaka", "Osaka v2", "(empty)"),
        Step(4, "reader", "cache", "SET user:1 Quito v1 PX 60000", "OK", "Quito v1"),
    ]
    cached = {"city": "Osaka" if consistent else "Quito", "version": 2 if consistent else 1}
    return Interleaving(steps, {}, cached, {"city": "Osaka", "version": 2}, "rcp:03:user:1")


def test_sequence_diagram_draws_one_arrow_per_step_between_the_right_lanes():
    fig, ax = plt.subplots()
    arrows = sequence_diagram(ax, an_interleaving(consistent=False))
    plt.close(fig)
    assert [a.step for a in arrows] == [1, 2, 3, 4]
    reader, cache, database, writer = 0.0, 1.6, 3.2, 4.8
    assert [(a.start_x, a.end_x) for a in arrows] == [
        (reader, cache),
        (reader, database),
        (writer, database),
        (reader, cache),
    ]
    assert arrows[0].color != arrows[2].color  # each actor has its own color
    texts = [t.get_text() for t in ax.texts]
    assert any("STALE" in t for t in texts) and "Quito v1" in texts


def test_sequence_diagram_says_consistent_when_it_is():
    fig, ax = plt.subplots()
    sequence_diagram(ax, an_interleaving(consistent=True))
    plt.close(fig)
    assert any(t.get_text().endswith(": consistent") for t in ax.texts)


def test_sequence_height_grows_with_the_steps():
    assert sequence_height(an_interleaving(True)) < sequence_height(
        Interleaving(an_interleaving(True).steps * 3, {}, None, None, "rcp:03:user:1")
    )


def test_sequence_diagram_wants_an_interleaving():
    fig, ax = plt.subplots()
    with pytest.raises(InvalidArgument, match="Interleaving"):
        sequence_diagram(ax, ["not", "an", "interleaving"])
    plt.close(fig)


def test_flow_diagram_draws_each_arrow_and_rejects_unknown_boxes():
    fig, ax = plt.subplots()
    boxes = {"a": (0.0, 0.0, "A"), "b": (3.0, 0.0, "B"), "c": (3.0, -2.0, "C")}
    assert flow_diagram(ax, boxes, [("a", "b", "x"), ("b", "c", "y")]) == [("a", "b"), ("b", "c")]
    with pytest.raises(InvalidArgument, match="unknown box 'z'"):
        flow_diagram(ax, boxes, [("a", "z", "x")])
    plt.close(fig)


def test_arrows_start_and_end_at_the_box_edges():
    assert _box_edge((0.0, 0.0), (3.0, 0.0)) == pytest.approx((1.0, 0.0))  # half width 0.9 plus a 0.1 gap
    assert _box_edge((0.0, 0.0), (0.0, -2.0)) == pytest.approx((0.0, -0.42))
    assert _box_edge((1.0, 1.0), (1.0, 1.0)) == (1.0, 1.0)


def test_readers_keep_the_left_lane_and_their_colour_whoever_acts_first():
    reader_first = an_interleaving(consistent=False)
    writer_first = Interleaving(
        [Step(1, "writer", "cache", "DEL user:1", "0", "(empty)"), *reader_first.steps[:2]],
        {},
        None,
        {"city": "Osaka", "version": 2},
        "rcp:03:user:1",
    )
    drawn = {}
    for name, interleaving in (("reader first", reader_first), ("writer first", writer_first)):
        fig, ax = plt.subplots()
        arrows = sequence_diagram(ax, interleaving)
        plt.close(fig)
        drawn[name] = {
            step.actor: (arrow.start_x, arrow.color) for step, arrow in zip(interleaving.steps, arrows, strict=True)
        }
    assert (
        drawn["reader first"]["reader"] == drawn["writer first"]["reader"] and drawn["reader first"]["reader"][0] == 0
    )
    assert drawn["reader first"]["writer"] == drawn["writer first"]["writer"]


def test_long_labels_wrap_onto_a_second_line_instead_of_being_cut():
    command = "EVALSHA <script> 2 user:106 user:106:lease 6f1c0a9b2e7d4c3a 60000"
    steps = [Step(1, "reader", "cache", command, "1", "(empty)")]
    fig, ax = plt.subplots()
    sequence_diagram(ax, Interleaving(steps, {}, None, None, "rcp:03:user:106"))
    plt.close(fig)
    shown = next(t.get_text() for t in ax.texts if t.get_text().startswith("EVALSHA"))
    assert shown.replace("\n", " ") == command and "\n" in shown
    assert sequence_height(Interleaving(steps, {}, None, None, "k")) > 1.4 + 0.42 * 2
