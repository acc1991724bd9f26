"""The Training dock in a MainWindow: start / pause / resume / stop, live curves, Inspect,
the sweep (cancel, CSV, plot items) and the window staying responsive."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lstmviz.config import Config


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """One window for the module: building a MainWindow costs seconds on a busy machine."""
    from PySide6.QtCore import QSettings

    from lstmviz.session import Session
    from lstmviz.ui.main_window import MainWindow

    ini = tmp_path_factory.mktemp("training") / "s.ini"
    w = MainWindow(Session(Config(models=("rnn", "lstm"), seq_len=12, hidden_size=6)),
                   settings=QSettings(str(ini), QSettings.Format.IniFormat), restore=False)
    w.show()
    yield w
    w.close()
    assert not w.tools["training"].worker or not w.tools["training"].worker.isRunning()
    w.deleteLater()


@pytest.fixture
def panel(window):
    p = window.tools["training"]
    p.task.setCurrentIndex(p.task.findData("adding"))
    for kind, box in p.model_boxes.items():
        box.setChecked(kind in ("rnn", "lstm"))
    p.length.setValue(6)
    p.hidden.setValue(6)
    p.batch.setValue(8)
    p.sweep_lags.setText("5, 10")
    p.sweep_task.setCurrentIndex(p.sweep_task.findData("recall"))
    yield p
    p.shutdown()


def test_dock_is_registered(window, panel):
    assert panel.name == "training" and panel.title == "Training" and panel.area == "bottom"
    assert "training" in window.docks
    assert panel.tooltip
    assert panel.save_weights_action in window.file_menu.actions()
    assert len(panel.plot_items()) == 4


def test_training_runs_to_the_end_and_draws_curves(qtbot, panel):
    panel.iterations.setValue(40)
    panel.start()
    assert panel.worker.isRunning()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.worker.isRunning(), timeout=20000)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=2000)
    assert panel.progress.value() == panel.progress.maximum() == 80
    for kind in ("rnn", "lstm"):
        x, y = panel.curves[(kind, "loss")].getData()
        assert len(x) == 40 and np.isfinite(y).all()
        assert panel.trainers[kind].iteration == 40
    assert ("rnn", "bias") not in panel.curves  # the vanilla RNN has no gate
    assert len(panel.curves[("lstm", "bias")].getData()[0]) == 40
    assert "Finished" in panel.status.text()


def test_pause_resume_and_stop_promptly(qtbot, panel):
    panel.length.setValue(40)
    panel.iterations.setValue(100000)
    panel.start()
    worker = panel.worker
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=10000)
    panel.toggle_pause()
    assert worker.paused and panel.pause_button.text() == "Resume"
    time.sleep(0.3)  # let an in-flight step finish
    qtbot.wait(200)
    frozen = {k: t.iteration for k, t in panel.trainers.items()}
    qtbot.wait(400)
    assert {k: t.iteration for k, t in panel.trainers.items()} == frozen  # paused means paused
    panel.toggle_pause()
    assert not worker.paused and panel.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: sum(t.iteration for t in panel.trainers.values())
                    > sum(frozen.values()), timeout=10000)
    start = time.perf_counter()
    panel.stop()
    qtbot.waitUntil(lambda: not worker.isRunning(), timeout=2000)
    assert time.perf_counter() - start < 2.0
    qtbot.waitUntil(lambda: "Stopped" in panel.status.text(), timeout=2000)
    assert max(t.iteration for t in panel.trainers.values()) < 100000


def test_stop_while_paused(qtbot, panel):
    panel.iterations.setValue(100000)
    panel.start()
    panel.toggle_pause()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.worker.isRunning(), timeout=2000)


def test_gui_stays_responsive_while_training(qtbot, panel):
    from PySide6.QtCore import QTimer

    panel.length.setValue(30)
    panel.iterations.setValue(100000)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    panel.start()
    qtbot.wait(1500)
    timer.stop()
    panel.stop()
    gaps = np.diff(ticks)
    assert len(ticks) > 15  # the event loop kept running
    assert gaps.max() < 0.75, gaps.max()


def test_inspect_loads_trained_weights_into_the_session(qtbot, window, panel):
    panel.model_boxes["gru"].setChecked(True)
    panel.task.setCurrentIndex(panel.task.findData("recall"))
    panel.length.setValue(5)
    panel.iterations.setValue(5)
    panel.start()
    qtbot.waitUntil(lambda: not panel.worker.isRunning(), timeout=20000)
    assert panel.inspect("gru")
    session = window.session
    assert session.config.task == "recall" and session.config.seq_len == 6
    run = session.runs["gru"]
    assert run.imported
    np.testing.assert_array_equal(run.model.params["weight_hh"],
                                  panel.trainers["gru"].params["weight_hh"])


def test_inspect_while_training_is_consistent(qtbot, window, panel):
    panel.iterations.setValue(100000)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() > 2, timeout=10000)
    assert panel.inspect("lstm")
    assert window.session.runs["lstm"].imported
    panel.stop()
    qtbot.waitUntil(lambda: not panel.worker.isRunning(), timeout=2000)


def test_save_trained_weights(qtbot, panel, tmp_path):
    from lstmviz.engine import load_weights

    panel.iterations.setValue(3)
    panel.start()
    qtbot.waitUntil(lambda: not panel.worker.isRunning(), timeout=20000)
    panel.save_weights("lstm", tmp_path / "l.npz")
    model, _ = load_weights(tmp_path / "l.npz")
    assert model.kind == "lstm"
    assert (tmp_path / "l.train.npz").is_file()


def test_sweep_inline_plots_and_saves_csv(qtbot, panel, tmp_path):
    panel.sweep_task.setCurrentIndex(panel.sweep_task.findData("recall"))
    panel.sweep_lags.setText("2, 4")
    panel.sweep_iterations.setValue(3)
    panel.start_sweep(workers=0)
    qtbot.waitUntil(lambda: not panel.sweep_worker.isRunning(), timeout=20000)
    qtbot.waitUntil(lambda: panel.save_csv_button.isEnabled(), timeout=2000)
    assert len(panel.sweep_results) == 4
    x, y = panel.sweep_curves["lstm"].getData()
    assert list(x) == [2, 4] and ((0 <= y) & (y <= 1)).all()
    assert panel.sweep_results[0].task == "recall"
    assert panel.sweep_progress.value() == 4
    assert "4 points" in panel.sweep_status.text()
    panel.save_csv(tmp_path / "s.csv")
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 5
    assert panel.plot_items()[-1] is panel.sweep_plot.getPlotItem()


def test_sweep_cancel_stops_promptly(qtbot, panel):
    panel.sweep_task.setCurrentIndex(panel.sweep_task.findData("recall"))
    panel.sweep_lags.setText("30, 40, 50, 60")
    panel.sweep_iterations.setValue(2000)
    panel.start_sweep(workers=2)
    assert panel.sweep_cancel.isEnabled()
    start = time.perf_counter()
    panel.cancel_sweep()
    # the uncancelled sweep runs for minutes; 10 s allows for a loaded shared machine
    qtbot.waitUntil(lambda: not panel.sweep_worker.isRunning(), timeout=10000)
    assert time.perf_counter() - start < 10.0
    qtbot.waitUntil(lambda: "Cancelled" in panel.sweep_status.text(), timeout=2000)
    assert len(panel.sweep_results) < 8


def test_bad_sweep_lags_are_reported(panel):
    before = panel.sweep_worker
    panel.sweep_lags.setText("5, ten")
    panel.start_sweep(workers=0)
    assert panel.sweep_worker is before  # nothing started
    assert "ten" in panel.sweep_status.text()


def test_theme_switch_recolours_plots(window, panel):
    window.theme_actions["dark"].trigger()
    assert panel.theme.name == "dark"
    bg = panel.loss_plot.backgroundBrush().color().name()
    assert bg == window.theme.background


def test_compact_layout_in_a_narrow_dock(panel):
    panel.set_compact(True)
    assert panel.tabs.tabText(0) == "Setup" and panel.tabs.widget(0) is panel.side
    assert panel.curve_grid.getItemPosition(panel.curve_grid.indexOf(panel.bias_plot))[:2] == (2, 0)
    panel.set_compact(False)
    assert panel.tabs.indexOf(panel.side) == -1 and panel.tabs.tabText(0) == "Curves"
    assert panel.curve_grid.getItemPosition(panel.curve_grid.indexOf(panel.bias_plot))[:2] == (0, 2)
    assert panel.side.isVisibleTo(panel)


def test_history_replay_shows_exactly_the_weights_of_that_iteration(qtbot, window, panel):
    from lstmviz.engine.training.history import PROBE_SEED
    from lstmviz.session import compute_runs

    panel.iterations.setValue(60)
    panel.start(fresh=True)
    qtbot.waitUntil(lambda: not panel.training, timeout=30000)
    hist = panel.histories()
    assert set(hist) == {"rnn", "lstm"}
    assert [s.iteration for s in hist["lstm"].snapshots][:3] == [0, 2, 4]
    assert hist["lstm"].snapshots[-1].iteration == 60
    assert panel.history_slider.maximum() == len(hist["lstm"].snapshots) - 1
    assert panel.history_view.images  # the heatmaps exist
    index = 7
    assert panel.replay(index)
    window.recomputer.wait()
    session = window.session
    cfg = session.config
    assert (cfg.task, cfg.seq_len, cfg.batch_size, cfg.seed) == ("adding", 6, 1, PROBE_SEED)
    fresh = compute_runs(cfg, {k: h.snapshots[index].model_and_readout(h.config)
                               for k, h in hist.items()})
    for kind, h in hist.items():
        snap = h.snapshots[index]
        run = session.runs[kind]
        assert run.imported
        np.testing.assert_array_equal(run.model.params["weight_hh"], snap.params["weight_hh"])
        np.testing.assert_array_equal(run.diagnostics.log10_grad_h, snap.log10_grad_h)
        np.testing.assert_array_equal(run.diagnostics.log10_grad_h,
                                      fresh[kind].diagnostics.log10_grad_h)
    np.testing.assert_array_equal(session.runs["lstm"].diagnostics.log10_grad_c,
                                  hist["lstm"].snapshots[index].log10_grad_c)
    assert str(hist["lstm"].snapshots[index].iteration) in panel.history_label.text()
    # play steps through the snapshots
    panel.toggle_play()
    qtbot.waitUntil(lambda: panel.history_slider.value() > index, timeout=5000)
    panel.toggle_play()
    assert not panel.play_timer.isActive()


def test_verdict_on_screen(qtbot, panel):
    panel.length.setValue(2)
    panel.iterations.setValue(10)
    panel.start(fresh=True)
    qtbot.waitUntil(lambda: not panel.training, timeout=30000)
    text = panel.verdict.text()
    assert "RNN" in text and "LSTM" in text
    assert all(v.split(" (")[0] in ("at chance", "learning: eval MSE")
               or v.startswith(("solved at iteration", "learning", "at chance"))
               for v in panel.verdicts().values())
    assert "eval MSE" in text


def test_start_after_stop_continues_and_reset_starts_fresh(qtbot, panel):
    panel.iterations.setValue(100000)
    panel.start(fresh=True)
    qtbot.waitUntil(lambda: panel.progress.value() > 10, timeout=20000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.training, timeout=5000)
    stopped = {k: t.iteration for k, t in panel.trainers.items()}
    assert panel.start_button.text() == "Continue" and panel.reset_button.isEnabled()
    panel.start()
    qtbot.waitUntil(lambda: all(t.iteration > stopped[k] for k, t in panel.trainers.items()),
                    timeout=20000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.training, timeout=5000)
    snaps = [s.iteration for s in panel.series["lstm"].snapshots]
    assert snaps == sorted(set(snaps))  # one history across both legs
    panel.reset()
    assert not panel.trainers and panel.start_button.text() == "Start"
    assert not panel.histories()


def test_sweep_cancel_leaves_no_worker_and_no_partial_csv(qtbot, panel, tmp_path):
    import multiprocessing

    panel.sweep_task.setCurrentIndex(panel.sweep_task.findData("adding"))
    panel.sweep_lags.setText("60, 80")
    panel.sweep_iterations.setValue(5000)
    panel.start_sweep(workers=2)
    assert "on 2 processes" in panel.sweep_status.text()
    qtbot.wait(1500)  # the workers have started their points
    start = time.perf_counter()
    panel.cancel_sweep()
    qtbot.waitUntil(lambda: not panel.sweep_worker.isRunning(), timeout=5000)
    assert time.perf_counter() - start < 5.0
    assert [p for p in multiprocessing.active_children() if p.is_alive()] == []
    assert not panel.save_csv_button.isEnabled()
    with pytest.raises(ValueError, match="not complete"):
        panel.save_csv(tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists() and list(tmp_path.iterdir()) == []
    panel.reset_sweep()


def test_sweep_plot_is_log_with_threshold_and_legend_above(qtbot, panel):
    import pyqtgraph as pg

    panel.sweep_task.setCurrentIndex(panel.sweep_task.findData("adding"))
    panel._reset_sweep_plot()
    p = panel.sweep_plot.getPlotItem()
    lines = [i for i in p.items if isinstance(i, pg.InfiniteLine)]
    assert sorted(round(line.value(), 3) for line in lines) == [-2.0, -0.778]
    assert panel.sweep_axis.log and p.legend is None
    legend = panel.sweep_legend  # beside the title, wrapping: never over a point
    assert "RNN" in legend.text() and "LSTM" in legend.text() and legend.wordWrap()
    assert "Success against lag" in p.titleLabel.text


def test_wheel_over_an_unfocused_field_changes_nothing(qtbot, window, panel):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    def wheel(widget):
        ev = QWheelEvent(QPointF(5, 5), QPointF(widget.mapToGlobal(QPoint(5, 5))), QPoint(0, 0),
                         QPoint(0, 120), Qt.MouseButton.NoButton,
                         Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, ev)

    for w in (panel.clip, panel.batch, panel.task, window.controls.hidden, window.controls.task):
        w.clearFocus()
        before = w.value() if hasattr(w, "value") else w.currentIndex()
        wheel(w)
        after = w.value() if hasattr(w, "value") else w.currentIndex()
        assert after == before, w.objectName()
        assert w.focusPolicy() == Qt.FocusPolicy.StrongFocus
