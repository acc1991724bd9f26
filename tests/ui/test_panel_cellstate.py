"""CellStatePanel: per-unit c_t / h_t trajectories revealed with the forward pass."""

import numpy as np
import pytest

from lstmviz.config import Config
from lstmviz.session import FORWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.cellstate import CellStatePanel
from lstmviz.ui.theme import DARK

T, H = 30, 8


def units(item, n):
    """The curve's y as (H, n): rows are units, the NaN separator column dropped."""
    x, y = item.getData()
    if x is None or len(x) == 0:
        return np.empty((0, 0)), np.empty((0, 0))
    x, y = np.asarray(x).reshape(-1, n + 1), np.asarray(y).reshape(-1, n + 1)
    assert np.isnan(y[:, n]).all()
    return x[:, :n], y[:, :n]


@pytest.fixture
def session():
    return Session(Config(models=("rnn", "lstm", "gru"), seq_len=T, hidden_size=H))


@pytest.fixture
def panel(qtbot, session):
    p = CellStatePanel(SessionAdapter(session))
    qtbot.addWidget(p)
    return p


def test_one_plot_and_one_item_per_model(panel, session):
    assert list(panel.widgets) == list(session.runs)
    for w in panel.widgets.values():
        assert len(w.getPlotItem().listDataItems()) == 1


def test_c_mode_reveals_cell_state_with_the_forward_pass(panel, session):
    assert panel.mode == "c"
    for i in range(session.n_frames):
        session.seek(i)
        n = session.frame.fwd_t
        for curve, (kind, run) in zip(panel.curves, session.runs.items(), strict=True):
            data = run.trace.c if kind == "lstm" else run.trace.h
            x, y = units(curve.item, n)
            assert y.shape == (H, n)
            np.testing.assert_array_equal(x, np.broadcast_to(np.arange(1, n + 1), (H, n)))
            np.testing.assert_array_equal(y, data[:n, 0, :].T)
        assert all(line.value() == session.frame.t for line in panel.cursors)
    title = panel.widgets["rnn"].getPlotItem().titleLabel.text
    assert "no cell state" in title
    assert "c_t" in panel.widgets["lstm"].getPlotItem().titleLabel.text


def test_h_mode_switch(panel, session):
    session.seek_to(FORWARD, 12)
    panel.set_mode("h")
    assert panel.mode == "h"
    _, y = units(panel.curves[1].item, 12)
    np.testing.assert_array_equal(y, session.runs["lstm"].trace.h[:12, 0, :].T)
    assert "no cell state" not in panel.widgets["rnn"].getPlotItem().titleLabel.text
    assert "lstm h_t[unit 0]" in panel.data_columns()


def test_y_range_from_data(panel, session):
    c = session.runs["lstm"].trace.c[:, 0, :]
    y0, y1 = panel.widgets["lstm"].getPlotItem().viewRange()[1]
    assert y0 < c.min() and y1 > c.max()
    x0, x1 = panel.widgets["lstm"].getPlotItem().viewRange()[0]
    assert x0 <= 1 and T <= x1 < T + 1


def test_batch_element_zero(qtbot):
    session = Session(Config(models=("lstm",), seq_len=T, hidden_size=H, batch_size=3))
    panel = CellStatePanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    session.seek_to(FORWARD, T)
    _, y = units(panel.curves[0].item, T)
    np.testing.assert_array_equal(y, session.runs["lstm"].trace.c[:, 0, :].T)


def test_without_lstm_the_switch_is_off(qtbot):
    session = Session(Config(models=("rnn",), seq_len=T, hidden_size=H))
    panel = CellStatePanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    assert not panel.mode_box.isEnabled()
    assert panel.mode == "h"


def test_overflow_note_and_no_exception(qtbot):
    # overflow = a value stops being finite in float64 (orthogonal init, scale 10: t = 381)
    session = Session(Config(models=("rnn",), activation="relu", weight_scale=10.0,
                             init="orthogonal", seq_len=500, hidden_size=16))
    run = session.runs["rnn"]
    assert run.overflow_step is not None
    panel = CellStatePanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    for i in range(session.n_frames):
        session.seek(i)
    assert "overflow at t = " in panel.notes["rnn"].toPlainText()
    _, y = panel.curves[0].item.getData()
    assert np.isfinite(np.asarray(y)[~np.isnan(y)]).all()
    assert np.all(np.isfinite(panel.widgets["rnn"].getPlotItem().viewRange()))


def test_data_columns(panel, session):
    cols = panel.data_columns()
    assert all(len(v) == T for v in cols.values())
    assert len(cols) == 1 + 3 * H
    np.testing.assert_array_equal(cols["lstm c_t[unit 3]"], session.runs["lstm"].trace.c[:, 0, 3])
    np.testing.assert_array_equal(cols["gru h_t[unit 0]"], session.runs["gru"].trace.h[:, 0, 0])


def test_set_theme_recolours(panel):
    panel.set_theme(DARK)
    for w in panel.widgets.values():
        assert w.backgroundBrush().color().name() == DARK.background
    pen = panel.curves[0].item.opts["pen"]
    assert pen.color().name() == DARK.model_color("rnn").name()


def test_render_png(panel, session, qtbot):
    panel.resize(700, 400)
    panel.show()
    qtbot.waitExposed(panel)
    session.seek_to(FORWARD, 22)
    panel.grab().save("/tmp/panel_cellstate.png")
