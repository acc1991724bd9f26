"""The unrolled view of stacked models: a grid (rows = layers, columns = steps) whose backward
arrows run left through time and down through depth on one log scale."""

import numpy as np

from lstmviz.config import Config
from lstmviz.session import Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.unrolled import ROW_H, UnrolledView


def test_grid_rows_per_layer_and_depth_arrows(qtbot, held):
    session = Session(Config(models=("rnn", "gru"), seq_len=9, hidden_size=4, num_layers=3))
    view = UnrolledView(SessionAdapter(session))
    held.append(view)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    assert list(view.rows) == ["rnn", "gru"]  # the top layers: selectable, with the loss
    assert [(r.run.kind, r.layer) for r in view.layer_rows] == [
        ("rnn", 1), ("rnn", 0), ("gru", 1), ("gru", 0)]
    ys = [view.rows["rnn"].y(), *(r.y() for r in view.layer_rows[:2]), view.rows["gru"].y()]
    assert ys == [0.0, ROW_H, 2 * ROW_H, 3 * ROW_H]
    for kind in ("rnn", "gru"):
        top = view.rows[kind]
        g = session.runs[kind].stack[2]
        assert top.has_loss and not top.show_inputs
        np.testing.assert_array_equal(top.depth_log, g.log10_x_layers[2])
        mid, bottom = [r for r in view.layer_rows if r.run.kind == kind]
        np.testing.assert_array_equal(mid.grad_h_log, g.log10_h_layers[1])
        np.testing.assert_array_equal(mid.depth_log, g.log10_x_layers[1])
        assert bottom.show_inputs and bottom.depth_log is None and not bottom.has_loss
        np.testing.assert_array_equal(bottom.grad_h_log, g.log10_h_layers[0])
    # one scale for time and depth: it spans every finite log shown
    lo, hi = view.grad_range
    allv = np.concatenate([np.r_[r.grad_h_log, r.depth_log if r.depth_log is not None else []]
                           for r in (*view.rows.values(), *view.layer_rows)])
    assert lo <= np.nanmin(allv) and np.nanmax(allv) <= hi
    session.to_end()
    view.grab()  # paints every row through the backward pass without error


def test_one_layer_has_no_grid_rows(qtbot, held):
    session = Session(Config(models=("rnn", "lstm"), seq_len=6, hidden_size=3))
    view = UnrolledView(SessionAdapter(session))
    held.append(view)
    qtbot.addWidget(view)
    assert view.layer_rows == []
    assert all(r.show_inputs and r.has_loss and r.depth_log is None for r in view.rows.values())
