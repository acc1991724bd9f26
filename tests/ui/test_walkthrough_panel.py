"""The walkthrough dock in a MainWindow: every built-in step applies and renders, navigation
keys, presenter mode, bad files, recent list, CLI rendering of a step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QToolBar

from lstmviz.config import Config
from lstmviz.session import Session, frame_index
from lstmviz.ui.main_window import MainWindow
from lstmviz.walkthrough import BUILTIN_DIR, list_builtin, load_walkthrough

BUILTINS = [name for name, _ in list_builtin()]


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(Session(Config(seq_len=12, hidden_size=6)), settings=settings, restore=False)
    qtbot.addWidget(w)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    yield w
    panel = w.tools["walkthrough"]
    if panel.presenter.active:
        panel.presenter.set_active(False)
    w.playback.play(False)
    panel.stop()


def panel_of(window):
    return window.tools["walkthrough"]


def non_blank(image) -> bool:
    small = image.scaled(64, 64)
    colours = {small.pixel(x, y) for x in range(64) for y in range(64)}
    return len(colours) > 8


def test_dock_and_menus_installed(window):
    panel = panel_of(window)
    assert panel.name == "walkthrough" and panel.title == "Walkthrough"
    assert "walkthrough" in window.docks
    texts = [a.text() for a in window.file_menu.actions()]
    assert "Open &walkthrough…" in texts
    assert panel.open_action.shortcut().toString() == "Ctrl+Shift+O"
    assert panel.recent_menu.title() == "Recent &walkthroughs"
    names = [a.data() for a in panel.menu.actions() if a.data()]
    assert names == BUILTINS
    assert panel.presenter.toggle_action.shortcut().toString() == "F5"
    assert panel.presenter.toggle_action in window.view_menu.actions()


@pytest.mark.parametrize("name", BUILTINS)
def test_every_step_applies_and_renders(window, name):
    panel = panel_of(window)
    wt = load_walkthrough(BUILTIN_DIR / f"{name}.toml")
    assert panel.open(name, animate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow steps overflow on purpose
        for i, step in enumerate(wt.steps):
            panel.go_to(i, animate=False)
            panel.wait_step()  # a large step computes in the background, then finishes
            window.recomputer.wait()  # and the exact Jacobian norms its claims may need
            QApplication.processEvents()
            s = window.session
            assert s.config == step.config
            if step.phase is not None:
                assert s.cursor == frame_index(step.phase, step.t, s.seq_len)
            if step.docks is not None:
                for dock_name, dock in window.docks.items():
                    if dock_name != "walkthrough":
                        assert dock.isVisible() == (dock_name in step.docks), dock_name
            if step.highlight.cell is not None:
                assert window.adapter.selected == step.highlight.cell
            assert panel.counter.text() == f"Step {i + 1} of {len(wt.steps)}"
            assert step.title.split()[0].lower()[:3] in panel.current_markdown().lower()
            assert "✗" not in panel.current_markdown()  # every claim holds in the app too
            assert "measuring" not in panel.current_markdown()  # (and was measured)
            assert non_blank(window.grab().toImage())
            assert non_blank(window.docks["walkthrough"].grab().toImage())


def test_play_step_animates_to_target(window, qtbot):
    panel = panel_of(window)
    assert panel.open("01_bptt", 1)
    panel.go_to(1)  # "The forward pass": play to forward t = T
    target = frame_index("forward", 12, 12)
    assert panel.playing
    assert window.session.cursor < target
    qtbot.waitUntil(lambda: window.session.cursor == target, timeout=5000)
    qtbot.waitUntil(lambda: not panel.playing, timeout=1000)


def test_page_keys_move_between_steps(window, qtbot):
    panel = panel_of(window)
    assert panel.open("02_vanishing", 1, animate=False)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert panel.index == 1
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert panel.index == 2
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert panel.index == 1
    # outside presenter mode the arrows still step frames
    cursor = window.session.cursor
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.session.cursor == cursor - 1
    assert panel.index == 1


def test_buttons_and_list(window):
    panel = panel_of(window)
    assert panel.open("01_bptt", animate=False)
    assert not panel.prev_button.isEnabled()
    panel.next_button.click()
    assert panel.index == 1
    panel.steps_list.itemClicked.emit(panel.steps_list.item(4))
    assert panel.index == 4
    panel.prev_button.click()
    assert panel.index == 3


def test_presenter_mode(window, qtbot):
    panel = panel_of(window)
    app = QApplication.instance()
    size = app.font().pointSizeF()
    assert panel.open("02_vanishing", 1, animate=False)
    def layout():
        return {n: (d.isVisible(), window.dockWidgetArea(d), d.isFloating(),
                    sorted(o.objectName() for o in window.tabifiedDockWidgets(d)
                           if o.isVisible()) if d.isVisible() else None)
                for n, d in window.docks.items()}

    before = layout()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert panel.presenter.active
    assert window.isFullScreen()
    assert not window.docks["settings"].isVisible()
    assert window.docks["walkthrough"].isVisible()
    assert all(not t.isVisible() for t in window.findChildren(QToolBar))
    assert panel.presenter.scale > 1.2
    assert app.font().pointSizeF() == pytest.approx(panel.presenter.scale * size)
    plot = window.panels["gradients"].plot_items()[0]
    assert plot.getAxis("bottom").style["tickFont"] is not None
    # arrows move between steps here, as do the clicker keys
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert panel.index == 1
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert panel.index == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert panel.index == 1
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert panel.index == 2
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert panel.index == 1
    # B blanks, any key brings it back (and does not move the lecture)
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert panel.presenter.overlay.isVisible()
    qtbot.keyClick(panel.presenter.overlay, Qt.Key.Key_Space)
    assert not panel.presenter.overlay.isVisible()
    assert panel.index == 1
    # Esc restores the previous layout
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not panel.presenter.active
    assert not window.isFullScreen()
    assert app.font().pointSizeF() == pytest.approx(size)
    assert plot.getAxis("bottom").style["tickFont"] is None
    # (exact sizes cannot be compared here: the offscreen screen is smaller than the window)
    # the lecture moved on in presenter mode: the window shows the step now on screen, not
    # the one at which F5 was pressed (test_lecture_layout checks F5, Esc on one step)
    shown = {n for n, d in window.docks.items() if d.isVisible()}
    assert shown == {*panel.step.docks, "walkthrough"}
    assert all(v[3] == [] for v in layout().values() if v[0])  # nothing tabbed
    assert set(before) == set(layout())
    assert all(t.isVisible() for t in window.findChildren(QToolBar))
    # and the arrows step frames again
    cursor = window.session.cursor
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.session.cursor == cursor - 1


def test_presenter_render(window):
    panel = panel_of(window)
    assert panel.open("04_lstm", 3, animate=False)
    panel.presenter.set_active(True)
    window.showNormal()  # the offscreen screen is small; look at a projector-sized window
    window.resize(1920, 1080)
    for _ in range(5):
        QApplication.processEvents()
    image = window.grab()
    assert non_blank(image.toImage())
    image.save("/tmp/wt_presenter.png")
    panel.presenter.set_active(False)


def test_bad_file_warns_and_keeps_state(window, tmp_path, monkeypatch):
    panel = panel_of(window)
    assert panel.open("01_bptt", 2, animate=False)
    config, cursor = window.session.config, window.session.cursor
    shown = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))
    bad = tmp_path / "lecture.toml"
    bad.write_text('title = "x"\n[[step]]\ntitle = "a"\nsetup = { weight_scale = 42 }\n')
    assert not panel.open(bad)
    assert shown == ["lecture.toml: step 1: setup.weight_scale: 42.0 is out of range; "
                     "expected 0.01 to 10"]
    assert window.session.config == config and window.session.cursor == cursor
    assert panel.walkthrough.name == "01_bptt" and panel.index == 1
    assert window.isVisible()
    assert not panel.open(tmp_path / "missing.toml")
    assert "missing.toml: file not found" in shown[-1]


def test_recent_list(window, tmp_path):
    panel = panel_of(window)
    path = tmp_path / "mine.toml"
    path.write_text((BUILTIN_DIR / "example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert panel.open(path, animate=False)
    assert panel.open("01_bptt", animate=False)
    recent = panel.recent()
    assert recent[0].endswith("01_bptt.toml") and recent[1] == str(path.resolve())
    panel._fill_recent()
    assert [a.text() for a in panel.recent_menu.actions()][:2] == ["01_bptt.toml", "mine.toml"]
    # persisted in the window's QSettings
    window.settings.sync()
    again = QSettings(window.settings.fileName(), QSettings.Format.IniFormat)
    assert len(again.value("walkthrough/recent")) == 2


def test_highlight_steps_shades_time_plots(window):
    panel = panel_of(window)
    assert panel.open("02_vanishing", 7, animate=False)
    assert panel._regions
    assert panel._regions[0][1].getRegion() == (0.5, 10.5)
    panel.go_to(0, animate=False)
    assert not panel._regions


def test_walkthrough_dock_render(window):
    panel = panel_of(window)
    assert panel.open("02_vanishing", 2, animate=False)
    window.resize(1500, 950)
    for _ in range(5):
        QApplication.processEvents()
    window.grab().save("/tmp/wt_window.png")
    assert non_blank(window.docks["walkthrough"].grab().toImage())


def test_a_long_narration_takes_room_from_the_step_list(window, qtbot):
    # at 720p a long step's claims fell below the narration while the step list under it
    # kept a quarter of the column: the list gives way down to three of its rows
    window.resize(1280, 720)
    panel = panel_of(window)
    assert panel.open("08_after_training", animate=False)
    qtbot.wait(50)
    lst = panel.steps_list
    whole = sum(lst.sizeHintForRow(i) for i in range(lst.count()))
    panel.go_to(lst.count() - 1)  # the longest narration
    qtbot.wait(50)
    doc_h = panel.narration.document().size().height()
    assert doc_h > panel.narration.viewport().height() or lst.height() >= whole  # (fits)
    assert lst.height() <= 3 * lst.sizeHintForRow(0) + 2 * lst.frameWidth() + 4
    panel.go_to(0)  # a shorter one: the list comes back as far as the text allows
    qtbot.wait(50)
    need = panel.narration.document().size().height()
    if need + lst.height() < sum(panel.split.sizes()) - whole:
        assert lst.height() >= whole


def test_a_step_shows_the_layer_it_names(window, tmp_path):
    path = tmp_path / "depth.toml"
    path.write_text("""
title = "Depth"
description = "A two-layer LSTM."
[[step]]
title = "Bottom"
narration = "The bottom layer's forget gates."
setup = { models = ["lstm"], num_layers = 2, seq_len = 8, hidden_size = 3 }
layer = 1
docks = ["forget"]
[[step]]
title = "Top"
narration = "The top layer again."
""", encoding="utf-8")
    panel = panel_of(window)
    assert panel.open(path)
    panel.wait_step()
    picker = window.controls.layer_picker
    assert window.adapter.layer == 0 and picker.currentData() == 0
    forget = window.panels["forget"]
    bottom = forget.heatmaps["lstm"].full.copy()
    panel.go_to(1)
    panel.wait_step()
    assert window.adapter.layer is None and picker.currentData() == 1  # the top
    assert not np.array_equal(forget.heatmaps["lstm"].full, bottom)  # (could fail)
