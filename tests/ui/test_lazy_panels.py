"""Panels in docks not on screen at launch are built when first shown (issue 16, launch),
and an export of such a view gets a fully built panel."""

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


def test_hidden_docks_are_built_when_shown(make_window):
    window = make_window(Config(models=("rnn", "lstm", "gru"), seq_len=12, hidden_size=6))
    settle()
    gates, jacobians = window.panels["gates"], window.panels["jacobians"]
    # tabbed behind forget and gradients at launch: nothing made yet
    assert not gates.built and not jacobians.built
    assert window.panels["gradients"].built and window.panels["forget"].built
    assert window.tools.pending("training")  # a closed tool dock: made on first use
    # a change while hidden costs nothing and is not lost
    window.apply_config(window.session.config.replace(seq_len=20), wait=True)
    assert not gates.built
    window.docks["gates"].raise_()
    settle()
    assert gates.built
    assert gates.plot_items(), "shown: its heatmaps exist"
    # what it shows is the run on screen, as a panel built eagerly on the same session
    fresh = GatesPanel(window.adapter, window.theme)
    assert columns_equal(gates.data_columns(), fresh.data_columns())
    assert len(next(iter(gates.data_columns().values()))) == \
        len(next(iter(fresh.data_columns().values())))
    fresh.deleteLater()
    window.docks["jacobians"].raise_()
    settle()
    assert jacobians.built and jacobians.plot_items()
    # the training tool is made when asked for
    assert window.tools["training"].name == "training"
    assert not window.tools.pending("training")


def test_a_never_shown_panel_builds_when_asked_for(make_window):
    window = make_window()
    settle()
    gates = window.panels["gates"]
    assert not gates.built
    assert gates.plot_items()  # asked for (an exporter would): built on the spot
    assert gates.built


def test_an_export_of_a_hidden_view_is_fully_built(make_window):
    window = make_window()
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
        window.docks["gates"].raise_()
        settle()
        assert columns_equal(scene.columns("gates"), window.panels["gates"].data_columns())
    finally:
        scene.close()
