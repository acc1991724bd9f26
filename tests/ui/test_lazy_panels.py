"""Panels in docks not on screen at launch are built after the window's first paint, or
when first shown or asked for (issue 16, launch), and an export of such a view gets a
fully built panel."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from lstmviz.config import Config
from lstmviz.ui.export.scene import HeadlessScene
from lstmviz.ui.panels.gates import GatesPanel


def settle(n: int = 5) -> None:
    for _ in range(n):
        QApplication.processEvents()


def columns_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_hidden_docks_are_built_after_the_first_paint(make_window):
    window = make_window(Config(models=("rnn", "lstm", "gru"), seq_len=12, hidden_size=6),
                         show=False)
    gates, jacobians = window.panels["gates"], window.panels["jacobians"]
    assert not any(p.built for p in window.panels.values())  # nothing before the show
    window.show()
    # the first paint: the panels on screen are built for it, the tabs behind others not
    built_at_paint = {}
    original = window._build_hidden
    window._build_hidden = lambda: (built_at_paint or built_at_paint.update(  # (the first)
        {n: p.built for n, p in window.panels.items()}), original())
    for _ in range(50):
        QApplication.processEvents()
        if built_at_paint:
            break
    assert built_at_paint, "the window painted"
    assert built_at_paint["gradients"] and built_at_paint["inspector"]
    assert not built_at_paint["gates"] and not built_at_paint["jacobians"]
    assert window.tools.pending("training")  # a closed tool dock: made on first use
    settle()
    assert gates.built and jacobians.built  # then, in the next turn
    window.apply_config(window.session.config.replace(seq_len=20), wait=True)
    window.docks["gates"].raise_()
    settle()
    assert gates.plot_items(), "shown: its heatmaps exist"
    # what it shows is the run on screen, as a panel built eagerly on the same session
    fresh = GatesPanel(window.adapter, window.theme)
    assert columns_equal(gates.data_columns(), fresh.data_columns())
    assert len(next(iter(gates.data_columns().values()))) == 20
    fresh.deleteLater()
    # the training tool is made when asked for
    assert window.tools["training"].name == "training"
    assert not window.tools.pending("training")


def test_a_never_shown_panel_builds_when_asked_for(make_window):
    window = make_window(show=False)
    settle()
    gates = window.panels["gates"]
    assert not gates.built
    assert gates.plot_items()  # asked for (an exporter would): built on the spot
    assert gates.built


def test_an_export_of_a_hidden_view_is_fully_built(make_window):
    window = make_window(show=False)
    settle()
    assert not window.panels["gates"].built
    scene = HeadlessScene(window.session, ["gates", "jacobians"], "light")
    try:
        for name in ("gates", "jacobians"):
            widget = scene.widgets[name]
            assert widget.built and widget.plot_items(), name
        image = scene.widgets["gates"].grab().toImage().scaled(64, 64)
        colours = {image.pixel(x, y) for x in range(64) for y in range(64)}
        assert len(colours) > 8, "the exported heatmaps are drawn"
        assert columns_equal(scene.columns("gates"), window.panels["gates"].data_columns())
    finally:
        scene.close()
