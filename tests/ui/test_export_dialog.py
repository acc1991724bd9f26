"""File > Export, the panels' right-click menu, the export dialog and the animation job."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from lstmviz.config import Config
from lstmviz.ui.export.dialog import (
    AnimationExport,
    ExportDialog,
    ExportOptions,
    export_items,
    panel_menu,
    targets,
)

SMALL = Config(models=("rnn", "lstm"), seq_len=4, hidden_size=4)


@pytest.fixture
def window(make_window):
    w = make_window(SMALL, theme="dark")
    w.session.to_end()
    return w


def corner_lightness(path) -> float:
    c = QImage(str(path)).pixelColor(1, 1)
    return c.lightness()


def test_menu_and_context_menus(window):
    texts = [a.text() for a in window.export_menu.actions() if a.text()]
    assert texts == ["&Current panel…", "&All panels…", "Whole &window…",
                     "&Unrolled network…", "&Animation (GIF)…"]
    assert window.export_menu.menuAction() in window.file_menu.actions()
    for name, panel in window.panels.items():
        assert panel.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
        assert [a.text() for a in panel_menu(window, name).actions()][0] == "Export…"


def test_right_click_makes_the_panel_current(window, qtbot):
    panel = window.panels["jacobians"]
    panel.customContextMenuRequested.emit(panel.rect().center())
    menu = panel.findChild(type(window.export_menu), "export-context-jacobians")
    assert menu is not None
    menu.close()
    assert targets(window, "current") == [("jacobians", panel)]


def test_focus_makes_the_panel_current(window, qtbot):
    import pyqtgraph as pg

    view = window.panels["gradients"].findChildren(pg.PlotWidget)[0]
    window.docks["gradients"].raise_()
    view.setFocus()
    qtbot.waitUntil(lambda: targets(window, "current")[0][0] == "gradients")


def test_light_export_from_a_dark_window_restores_the_theme(window, tmp_path):
    out = tmp_path / "g.png"
    options = ExportOptions(fmt="png", width=1920, theme="light", path=str(out))
    export_items(window, targets(window, "gradients"), options)
    image = QImage(str(out))
    assert image.width() == 1920
    assert corner_lightness(out) > 200
    assert window.theme.name == "dark"
    assert window.panels["gradients"].theme.name == "dark"
    # current theme: as on screen
    export_items(window, targets(window, "gradients"),
                 ExportOptions(fmt="png", width=800, theme="", path=str(out)))
    assert corner_lightness(out) < 80


def test_dpi_and_svg_and_csv(window, tmp_path):
    panel = window.panels["gradients"]
    export_items(window, targets(window, "gradients"),
                 ExportOptions(fmt="png", use_dpi=True, dpi=192, path=str(tmp_path / "a.png")))
    # rendered off screen at the destination's size, never the dock's on-screen shape
    image = QImage(str(tmp_path / "a.png"))
    assert (image.width(), image.height()) == (1920, 1080)
    assert image.width() != 2 * panel.width()
    export_items(window, targets(window, "gradients"),
                 ExportOptions(fmt="svg", path=str(tmp_path / "a.svg")))
    root = ET.parse(tmp_path / "a.svg").getroot()
    assert any(e.tag.endswith("path") for e in root.iter())
    export_items(window, targets(window, "gradients"),
                 ExportOptions(fmt="csv", path=str(tmp_path / "a.csv")))
    from lstmviz.export import read_csv

    cols = read_csv(tmp_path / "a.csv")
    np.testing.assert_array_equal(cols["rnn ||dL/dh_t||"],
                                  window.session.runs["rnn"].diagnostics.grad_h_norm)


def test_all_panels_and_window(window, tmp_path):
    export_items(window, targets(window, "panels"),
                 ExportOptions(fmt="png", width=600, path=str(tmp_path)))
    names = {p.name for p in tmp_path.iterdir()}
    assert {"gradients.png", "forget.png", "inspector.png"} <= names
    for name in names & {"gradients.png", "forget.png", "inspector.png"}:
        image = QImage(str(tmp_path / name))
        assert (image.width(), image.height()) == (1920, 1080), name
    export_items(window, targets(window, "window"),
                 ExportOptions(fmt="png", preset="custom", width=1000, height=600,
                               path=str(tmp_path / "w.png")))
    assert QImage(str(tmp_path / "w.png")).width() == 1000


def test_dialog_remembers_choices(window, tmp_path, qtbot):
    dialog = ExportDialog(window, "gradients")
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("svg"))
    dialog.width_box.setValue(1280)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.transparent.setChecked(True)
    dialog.path.setText(str(tmp_path / "grad.svg"))
    dialog.accept()
    window._export_job.wait()  # the export runs in the event loop's turns
    assert (tmp_path / "grad.svg").exists()
    again = ExportDialog(window, "jacobians")
    qtbot.addWidget(again)
    assert again.fmt == "svg"
    assert again.width_box.value() == 1280
    assert again.theme.currentData() == "dark"
    assert again.transparent.isChecked()
    assert again.path.text() == str(tmp_path / "jacobians.svg")
    again.reject()


def test_dialog_error_keeps_it_open(window, tmp_path, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    dialog = ExportDialog(window, "gradients")
    qtbot.addWidget(dialog)
    dialog.path.setText(str(tmp_path / "missing" / "g.png"))
    dialog.accept()
    assert warnings and "no such folder" in warnings[0]
    assert dialog.result() == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["unrolled", "gradients"])
def test_animation_one_frame_per_run_frame(window, tmp_path, qtbot, target):
    from PIL import Image

    cursor = window.session.cursor
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "run.gif"
    job = AnimationExport(window, target, ExportOptions(width=300, fps=5, path=str(out)))
    assert job.dialog is not None and job.dialog.maximum() == 10
    with qtbot.waitSignal(job.finished, timeout=60000) as blocker:
        pass
    assert blocker.args == [str(out)]
    with Image.open(out) as gif:
        assert gif.n_frames == 2 * SMALL.seq_len + 1
        assert gif.size[0] == 300
    assert window.session.cursor == cursor
    assert window.theme.name == "dark"
    assert sorted(p.name for p in out.parent.iterdir()) == ["run.gif"]


def test_cancelled_animation_leaves_no_gif(window, tmp_path, qtbot):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "run.gif"
    cursor = window.session.cursor
    job = AnimationExport(window, "unrolled", ExportOptions(width=200, path=str(out)))
    job.timer.stop()  # step it by hand: cancel half-way, deterministically
    job._tick()
    job._tick()
    assert job.done == 4
    assert job.scene.theme.name == "light"  # the export's theme, on its own views
    assert window.theme.name == "dark"  # the window on screen is left alone
    with qtbot.waitSignal(job.finished) as blocker:
        job.dialog.canceled.emit()  # what the Cancel button does
    assert blocker.args == [""]
    assert list(out.parent.iterdir()) == []
    assert window.theme.name == "dark"
    assert window.session.cursor == cursor


def test_animation_dialog_starts_a_job(window, tmp_path, qtbot):
    dialog = ExportDialog(window, "unrolled", animation=True)
    qtbot.addWidget(dialog)
    dialog.path.setText(str(tmp_path / "a.gif"))
    dialog.width_box.setValue(200)
    dialog.accept()
    job = window._export_job
    qtbot.waitUntil(lambda: (tmp_path / "a.gif").exists(), timeout=60000)
    assert job.result == tmp_path / "a.gif"


def test_an_export_shows_the_layer_the_window_shows(make_window, tmp_path):
    import csv

    from lstmviz.ui.export.dialog import start_export_job

    window = make_window(Config(models=("lstm",), seq_len=6, hidden_size=3, num_layers=2))
    window.session.to_end()
    texts = {}
    for layer in (0, None):
        window.adapter.set_layer(layer)
        out = tmp_path / f"forget-{layer}" / "forget.csv"
        out.parent.mkdir()
        job = start_export_job(window, [("forget", window.panels["forget"])],
                               ExportOptions(fmt="csv", path=str(out)), progress=False)
        assert job.request.layer == layer
        assert out in job.wait()
        texts[layer] = list(csv.reader(out.open()))
    assert texts[0] != texts[None]
