"""A step with `sweep` (lecture 7 step 5): the Training dock is shown on its Sweep tab with
the step's task, lengths, iterations, models and budget in the widgets, and not started."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.engine.training.sweep import SWEEP_CONFIG
from lstmviz.walkthrough import find_walkthrough, load_walkthrough

MODELS = ["rnn", "lstm", "indrnn", "mingru", "lru", "slstm"]


def test_step_presets_the_sweep_tab(make_window):
    window = make_window()
    wt = load_walkthrough(find_walkthrough("modern"))
    sweep = wt.steps[4].sweep
    panel = window.tools["walkthrough"]
    training = window.tools["training"]
    training.batch.setValue(7)  # the user's own settings: the step's budget replaces them
    training.optimizer.setCurrentIndex(training.optimizer.findData("sgd"))
    training.sweep_lags.setText("5, 10")
    assert panel.open("modern", 5, animate=False)
    panel.wait_step()
    QApplication.processEvents()
    dock = window.docks["training"]
    assert dock.isVisible() and not dock.visibleRegion().isEmpty()
    assert training.tabs.currentWidget() is training.sweep_tab
    assert training.sweep_task.currentData() == "adding"
    assert training.sweep_lengths() == [100, 200, 500, 1000]
    assert training.sweep_iterations.value() == sweep.iterations
    assert training.selected_kinds == MODELS
    assert training.batch.value() == SWEEP_CONFIG.batch_size
    assert training.optimizer.currentData() == SWEEP_CONFIG.optimizer
    assert training.lr.value() == pytest.approx(SWEEP_CONFIG.lr)
    assert training.hidden.value() == SWEEP_CONFIG.hidden_size
    assert training.clip.value() == pytest.approx(SWEEP_CONFIG.clip)
    # preset, not started: the lecturer presses Run sweep
    assert not training.sweeping and training.sweep_worker is None
    assert training.sweep_button.isEnabled()
    assert training.sweep_progress.maximum() == 24 and training.sweep_progress.value() == 0
    assert "24 points" in training.sweep_status.text()  # preset, said so
    # what Run sweep would train: the step's 24 points with its budget
    assert len(training.sweep_points) == 24
    assert {p.iterations for p in training.sweep_points} == {sweep.iterations}
    assert training.sweep_config() == SWEEP_CONFIG.replace(
        kind=training.sweep_config().kind, noise=training.sweep_config().noise)


def test_steps_without_sweep_leave_the_dock_alone(make_window):
    window = make_window()
    panel = window.tools["walkthrough"]
    assert panel.open("modern", 4, animate=False)
    panel.wait_step()
    assert window.tools.pending("training")  # never made: no step asked for it
