"""The previous walkthrough step's gradient curves stay as a faint ghost (issue 10): moving
2.3 -> 2.4 ("twice as steep") shows 2.3's ‖dL/dh_t‖ dashed behind 2.4's, named "previous
step" in the legend; gone when the models or T differ and when the walkthrough closes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from lstmviz.ui.panels.gradients import GHOST_LABEL


def settle(n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()


@pytest.fixture
def window(make_window):
    w = make_window()
    w.resize(1280, 720)
    settle()
    yield w
    w.tools["walkthrough"].stop()


def go(panel, index: int) -> None:
    panel.go_to(index, animate=False)
    panel.wait_step()
    settle()


def legend_names(panel) -> list[str]:
    return [label.text for _sample, label in panel.legend.items]


def test_previous_steps_curve_stays_as_a_ghost(window):
    wt = window.tools["walkthrough"]
    grads = window.panels["gradients"]
    assert wt.open("vanishing", 3, animate=False)
    wt.wait_step()
    settle()
    assert grads.ghosts == []  # the first step shown has nothing to compare with
    before = np.array(window.session.runs["rnn"].diagnostics.log10_grad_h, dtype=float)
    go(wt, 3)  # 2.4: weights halved, "nearly twice as steep"
    assert window.session.config.weight_scale == 0.5
    assert len(grads.ghosts) == 1
    ghost = grads.ghosts[0]
    assert ghost in grads.plot.items
    x, y = ghost.getData()
    np.testing.assert_array_equal(x, np.arange(1, len(before) + 1))
    np.testing.assert_array_equal(y, before)  # 2.3's curve, exactly, not 2.4's
    now = np.array(window.session.runs["rnn"].diagnostics.log10_grad_h, dtype=float)
    assert now[0] < before[0] - 5  # (the comparison the narration makes)
    pen = ghost.opts["pen"]
    assert pen.style() == Qt.PenStyle.DashLine and pen.color().alpha() < 255
    assert GHOST_LABEL in legend_names(grads)
    assert ghost.zValue() < grads.series["rnn"][0].item.zValue()


def test_ghost_goes_when_models_or_length_differ_and_on_close(window):
    wt = window.tools["walkthrough"]
    grads = window.panels["gradients"]
    assert wt.open("vanishing", 4, animate=False)
    go(wt, 4)  # 2.5: sigmoid, same models and T: a ghost of 2.4
    assert len(grads.ghosts) == 1
    go(wt, 5)  # 2.6: T doubled: t no longer lines up
    assert window.session.seq_len != 40
    assert grads.ghosts == [] and GHOST_LABEL not in legend_names(grads)
    go(wt, 4)  # back to 2.5: T differs again (from 2.6)
    assert grads.ghosts == []
    go(wt, 3)  # 2.4 from 2.5: a ghost (of 2.5)
    assert len(grads.ghosts) == 1
    wt.close_walkthrough()
    settle()
    assert grads.ghosts == [] and GHOST_LABEL not in legend_names(grads)
    assert not [i for i in grads.plot.listDataItems() if i.name() == GHOST_LABEL]


def test_ghost_needs_the_same_models(window):
    wt = window.tools["walkthrough"]
    grads = window.panels["gradients"]
    assert wt.open("compare", 1, animate=False)  # RNN, LSTM, GRU
    wt.wait_step()
    steps = wt.walkthrough.steps
    for i in range(1, len(steps)):
        previous = window.session.config
        go(wt, i)
        same = (previous.models == window.session.config.models
                and previous.seq_len == window.session.config.seq_len
                and previous != window.session.config)
        shown = {k for k in window.session.runs} if same else set()
        assert len(grads.ghosts) == len(shown), f"step {i + 1}"
