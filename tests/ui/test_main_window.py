"""The main window: launch, stepping, controls, docks, layout persistence, themes."""

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from lstmviz.config import Config
from lstmviz.session import BACKWARD, FORWARD, LOSS, Session
from lstmviz.ui.main_window import PANEL_CLASSES, MainWindow
from lstmviz.ui.worker import live_jobs


def test_default_window_shows_rnn_and_lstm(make_window):
    window = make_window(Config())
    assert list(window.session.runs) == ["rnn", "lstm"]
    assert set(window.unrolled.rows) == {"rnn", "lstm"}
    for name, _ in PANEL_CLASSES:
        assert window.docks[name].isVisible(), name
    assert window.docks["settings"].objectName() == "dock-settings"
    assert all(d.objectName() for d in window.docks.values())


def test_step_back_and_scrub_every_frame(make_window, qtbot):
    window = make_window()
    s = window.session
    seen = []
    window.adapter.frameChanged.connect(seen.append)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert s.cursor == 1
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert s.cursor == 0
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert s.cursor == s.n_frames - 1
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert s.cursor == 0
    phases = set()
    for i in range(s.n_frames):
        window.playbar.slider.setValue(i)
        assert s.cursor == i
        phases.add(s.frame.phase)
        assert window.playbar.slider.value() == i
    assert phases == {FORWARD, LOSS, BACKWARD}
    for _ in range(s.n_frames):
        window.playback.step_back()
    assert s.cursor == 0
    assert seen[:2] == [1, 0]
    window.playback.to_backward()
    assert s.frame.phase == BACKWARD and s.frame.t == s.seq_len
    assert "backward" in window.playbar.phase.text()
    assert "‖dL/dh" in window.status_label.text()


def test_play_advances_and_stops_at_end(make_window, qtbot):
    window = make_window(Config(models=("rnn",), seq_len=3, hidden_size=2))
    window.playback.set_fps(60)
    window.playback.play()
    assert window.playback.timer.isActive()
    qtbot.waitUntil(lambda: not window.playback.timer.isActive(), timeout=3000)
    assert window.session.cursor == window.session.n_frames - 1
    assert not window.playback.play_action.isChecked()


@pytest.mark.parametrize(
    ("widget", "action", "check"),
    [
        ("hidden_size", lambda w: w.setValue(9), lambda s: s.runs["rnn"].trace.h.shape[2] == 9),
        ("seq_len", lambda w: w.setValue(17), lambda s: s.runs["rnn"].trace.h.shape[0] == 17),
        ("num_layers", lambda w: w.setValue(3),
         lambda s: s.runs["rnn"].num_layers == 3 and s.runs["lstm"].log10_h_layers.shape[0] == 3),
        ("task", lambda w: w.setCurrentIndex(w.findData("adding")),
         lambda s: s.runs["rnn"].task.name == "adding" and s.runs["rnn"].trace.xs.shape[2] == 2),
        ("activation", lambda w: w.setCurrentIndex(w.findData("relu")),
         lambda s: s.runs["rnn"].model.activation == "relu"),
        ("init", lambda w: w.setCurrentIndex(w.findData("orthogonal")),
         lambda s: s.config.init == "orthogonal"),
        ("weight_scale", lambda w: w.setValue(1.7),
         lambda s: abs(s.runs["rnn"].diagnostics.sigma_max - 1.7) < 1e-9),
        ("forget_bias", lambda w: w.setValue(4.0),
         lambda s: np.allclose(s.runs["lstm"].model.params["bias_ih"][6:12]
                               + s.runs["lstm"].model.params["bias_hh"][6:12], 4.0)),
        ("seed", lambda w: w.setValue(5), lambda s: s.config.seed == 5),
        ("loss_where", lambda w: w.setCurrentIndex(w.findData("every")),
         lambda s: s.config.loss_where == "every"),
        ("model-gru", lambda w: w.setChecked(True),
         lambda s: list(s.runs) == ["rnn", "lstm", "gru"]),
        ("model-rnn", lambda w: w.setChecked(False), lambda s: list(s.runs) == ["lstm"]),
    ],
)
def test_every_control_recomputes(make_window, qtbot, widget, action, check):
    window = make_window(Config(models=("rnn", "lstm"), seq_len=10, hidden_size=6))
    window.session.seek(4)
    before = window.session.runs
    from PySide6.QtWidgets import QWidget

    w = window.controls.findChild(QWidget, widget)
    assert w is not None, widget
    action(w)
    qtbot.waitUntil(lambda: window.session.runs is not before, timeout=5000)
    assert check(window.session)
    # the cursor keeps its place (forward t = 5) where it still exists
    assert window.session.frame.phase == FORWARD and window.session.frame.t == 5


def test_unchecking_every_model_is_refused_with_a_message(make_window):
    window = make_window(Config(models=("rnn",), seq_len=5, hidden_size=3))
    before = window.session.runs
    window.controls.model_boxes["rnn"].setChecked(False)
    assert window.session.runs is before
    assert "models" in window.controls.error.text()


def test_docks_close_and_come_back_from_view_menu(make_window):
    window = make_window()
    for name, _ in PANEL_CLASSES:
        dock = window.docks[name]
        dock.close()
        assert not dock.isVisible()
        toggle = dock.toggleViewAction()
        assert toggle in window.view_menu.actions()
        toggle.trigger()
        assert dock.isVisible()


def test_layout_persists_across_restart(qtbot, tmp_path):
    path = str(tmp_path / "layout.ini")
    config = Config(models=("rnn",), seq_len=5, hidden_size=3)
    w1 = MainWindow(Session(config), settings=QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(w1)
    w1.show()
    w1.docks["jacobians"].close()
    w1.docks["gates"].setFloating(True)
    w1.close()
    w2 = MainWindow(Session(config), settings=QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    w2.show()
    assert not w2.docks["jacobians"].isVisible()
    assert w2.docks["gates"].isFloating()
    w2.reset_layout()
    assert w2.docks["jacobians"].isVisible()
    assert not w2.docks["gates"].isFloating()


def test_theme_switch_recolours_and_persists(make_window, settings):
    from PySide6.QtWidgets import QApplication

    window = make_window()
    window.set_theme("dark")
    assert window.theme.name == "dark"
    assert window.unrolled.backgroundBrush().color().name() == "#1e1f22"
    assert QApplication.palette().window().color().lightness() < 80
    assert settings.value("theme") == "dark"
    window.set_theme("light")
    assert QApplication.palette().window().color().lightness() > 200


def test_exploding_configuration_renders(make_window, qtbot):
    config = Config(models=("rnn", "lstm"), activation="relu", weight_scale=3.0, seq_len=500,
                    hidden_size=16, init="orthogonal")
    window = make_window(config)
    run = window.session.runs["rnn"]
    assert run.overflow_step is not None
    for i in range(0, window.session.n_frames, 37):
        window.session.seek(i)
        window.grab()
    window.session.to_end()
    image = window.grab().toImage()
    assert not image.isNull()
    assert "overflow" in window.status_label.text()


def test_large_settings_recompute_off_the_gui_thread(make_window, qtbot):
    window = make_window(Config(models=("rnn",), seq_len=5, hidden_size=3))
    busy = []
    window.recomputer.busyChanged.connect(busy.append)
    window.controls.set_config(window.session.config)
    big = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=64)
    window.request_config(big)
    assert busy == [True]
    assert window.busy_bar.isVisible()
    qtbot.waitUntil(lambda: window.session.config == big, timeout=30000)
    assert busy == [True, False]
    assert not window.busy_bar.isVisible()


def test_a_background_recompute_shows_its_progress(make_window, qtbot):
    window = make_window(Config(models=("rnn",), seq_len=5, hidden_size=3))
    seen = []
    window.recomputer.progress.connect(seen.append)
    big = Config(models=("rnn", "lstm", "gru"), seq_len=600, hidden_size=64)
    window.request_config(big)
    assert window.cancel_button.isVisible() and window.cancel_action.isEnabled()
    qtbot.waitUntil(lambda: window.session.config == big, timeout=30000)
    # every stage of every run reported, in order, ending with the whole done
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert window.busy_bar.maximum() == 100
    assert not window.cancel_button.isVisible() and not window.cancel_action.isEnabled()


def test_cancelling_a_recompute_keeps_the_runs_shown(make_window, qtbot):
    small = Config(models=("rnn",), seq_len=5, hidden_size=3)
    window = make_window(small)
    runs = window.session.runs
    cancelled = []
    window.recomputer.cancelled.connect(lambda: cancelled.append(True))
    big = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=256)
    window.controls.set_config(big)
    window.request_config(big)
    assert window.recomputer.busy
    window.cancel_action.trigger()
    assert cancelled == [True] and not window.recomputer.busy
    assert not window.busy_bar.isVisible() and not window.cancel_button.isVisible()
    assert window.controls.seq_len.value() == 5  # the controls show what is computed
    assert "cancelled" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: live_jobs() == 0, timeout=15000)  # the job stopped
    qtbot.wait(100)
    window.recomputer.poll()
    assert window.session.runs is runs and window.session.config == small
    assert not window.recomputer.cancel()  # nothing left to cancel


def test_open_and_save_configuration(make_window, tmp_path):
    window = make_window(Config(models=("rnn",), seq_len=5, hidden_size=3))
    window.apply_config(window.session.config.replace(seq_len=8))
    assert window.save_config(tmp_path / "c.toml")
    window.apply_config(window.session.config.replace(seq_len=6))
    assert window.open_config(tmp_path / "c.toml")
    assert window.session.config.seq_len == 8
    assert window.controls.seq_len.value() == 8


def test_bad_config_file_keeps_what_the_user_had(make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    messages = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: messages.append(a[2]))
    window = make_window(Config(models=("rnn",), seq_len=5, hidden_size=3))
    before = window.session.config
    bad = tmp_path / "bad.toml"
    bad.write_text("[settings]\nseq_len = 0\n")
    assert not window.open_config(bad)
    assert window.session.config == before
    assert "seq_len" in messages[0] and "bad.toml" in messages[0]


def test_clicking_a_cell_moves_cursor_and_selects(make_window, qtbot):
    from lstmviz.ui.unrolled import cell_x

    window = make_window(Config(models=("rnn", "lstm"), seq_len=6, hidden_size=3))
    view = window.unrolled
    row = view.rows["lstm"]
    center = row.mapToScene(row.cell_rect(3).center())
    pos = view.mapFromScene(center)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.adapter.selected == ("lstm", 3)
    assert window.session.frame.phase == FORWARD and window.session.frame.t == 3
    assert cell_x(3) > cell_x(2)


def test_help_and_about_name_versions(make_window):
    window = make_window()
    import PySide6

    assert PySide6.__version__ in window.about_text()


def test_jacobian_norms_arrive_in_the_background(make_window, qtbot):
    from lstmviz.session import compute_runs

    window = make_window(Config(models=("rnn", "lstm"), seq_len=30, hidden_size=8))
    qtbot.waitUntil(lambda: window.session.jacobians_ready, timeout=20000)
    window.request_config(window.session.config.replace(seed=3))
    qtbot.waitUntil(lambda: window.session.config.seed == 3, timeout=20000)
    qtbot.waitUntil(lambda: window.session.jacobians_ready, timeout=20000)
    full = compute_runs(window.session.config)
    for kind in ("rnn", "lstm"):
        np.testing.assert_array_equal(window.session.runs[kind].diagnostics.jac_prod_norm,
                                      full[kind].diagnostics.jac_prod_norm)
    assert window.docks["jacobians"].windowTitle() == "Jacobians"
    columns = window.panels["jacobians"].data_columns()
    assert any(np.isfinite(v).all() for k, v in columns.items() if k != "t")


def test_late_jacobian_results_for_old_runs_are_dropped():
    s = Session(Config(models=("rnn",), seq_len=5, hidden_size=3))
    old = s.generation
    s.set_config(s.config.replace(seed=4))
    assert not s.complete_jacobians(old, dict(s.runs))
    assert s.complete_jacobians(s.generation)
