"""JacobianPanel: forward quantities revealed forward, products and W_hh terms backward."""

import numpy as np
import pytest

from lstmviz.config import Config
from lstmviz.session import BACKWARD, FORWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.jacobians import JacobianPanel
from lstmviz.ui.theme import DARK

T = 30


def xy(item):
    x, y = item.getData()
    if x is None:
        return np.array([]), np.array([])
    return np.asarray(x), np.asarray(y)


@pytest.fixture
def session():
    return Session(Config(models=("rnn", "lstm", "gru"), seq_len=T, hidden_size=8))


@pytest.fixture
def panel(qtbot, session):
    p = JacobianPanel(SessionAdapter(session))
    qtbot.addWidget(p)
    return p


def curves_by_source(panel, session):
    """(plot index, engine values, revealed backward?) for every curve, in creation order."""
    out = []
    for run in session.runs.values():
        d = run.diagnostics
        out += [(0, d.log10_jac_prod, True), (0, d.log10_jac_step, False),
                (2, d.log10_whh, True)]
        if d.cell_direct is not None:
            out += [(1, d.cell_direct, False), (1, d.cell_indirect, False)]
    assert len(out) == len(panel.curves)
    return out


def test_reveal_with_forward_and_backward(panel, session):
    sources = curves_by_source(panel, session)
    for i in range(session.n_frames):
        session.seek(i)
        frame = session.frame
        for curve, (plot, values, backward) in zip(panel.curves, sources, strict=True):
            assert curve.item in panel.plots[plot].listDataItems()
            x, y = xy(curve.item)
            if backward:
                t = frame.bwd_t
                np.testing.assert_array_equal(x, np.arange(t, T + 1))
                ref = values[t - 1:]
            else:
                t = frame.fwd_t
                np.testing.assert_array_equal(x, np.arange(1, t + 1))
                ref = values[:t]
            expected = np.array(ref)
            if plot != 1:  # log plots (exact logs): exact zeros sit on the bottom edge
                expected[expected == -np.inf] = panel.plots[plot].viewRange()[1][0]
            np.testing.assert_allclose(y, expected)
        assert all(line.value() == frame.t for line in panel.cursors)


def test_product_starts_at_one_and_reference_line(panel, session):
    session.seek_to(BACKWARD, T)
    _, y = xy(panel.curves[0].item)  # the RNN's product
    np.testing.assert_allclose(y, [0.0], atol=1e-12)  # ||dh_T/dh_T|| = ||I|| = 1
    y0, y1 = panel.plots[0].viewRange()[1]
    assert y0 < 0 < y1


def test_cell_path_only_for_lstm(qtbot):
    session = Session(Config(models=("rnn", "gru"), seq_len=T, hidden_size=8))
    panel = JacobianPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    assert panel.plots[1].listDataItems() == []
    assert "only LSTM" in panel.cell_note.toPlainText()
    assert panel.w_cell.isHidden()  # the other two plots take its room
    session.set_config(session.config.replace(models=("lstm",)))
    assert len(panel.plots[1].listDataItems()) == 2
    assert panel.cell_note.toPlainText() == ""
    assert not panel.w_cell.isHidden()
    session.seek_to(FORWARD, 10)
    x, _ = xy(panel.plots[1].listDataItems()[0])
    assert x.size == 10


def test_ranges_cover_data(panel, session):
    for plot, key in ((0, "log10_jac_prod"), (2, "log10_whh")):
        logs = np.concatenate([getattr(r.diagnostics, key) for r in session.runs.values()])
        logs = logs[np.isfinite(logs)]
        y0, y1 = panel.plots[plot].viewRange()[1]
        assert y0 < logs.min() and y1 > logs.max()
    d = session.runs["lstm"].diagnostics
    y0, y1 = panel.plots[1].viewRange()[1]
    assert y0 <= 0 and y1 >= max(d.cell_direct.max(), d.cell_indirect.max())


def test_overflow_note_and_no_exception(qtbot):
    session = Session(Config(models=("rnn",), activation="relu", init="orthogonal",
                             weight_scale=10.0, seq_len=320, hidden_size=2))
    assert session.runs["rnn"].trace.overflow_step is not None
    panel = JacobianPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    for i in range(session.n_frames):
        session.seek(i)
    assert "overflow at t = " in panel.overflow_notes[0].toPlainText()
    for curve in panel.curves:
        assert np.all(np.isfinite(xy(curve.item)[1]))
    for p in panel.plots:
        assert np.all(np.isfinite(p.viewRange()))


def test_data_columns_equal_engine_arrays(panel, session):
    cols = panel.data_columns()
    assert all(len(v) == T for v in cols.values())
    for kind, run in session.runs.items():
        d = run.diagnostics
        np.testing.assert_array_equal(cols[f"{kind} ||dh_T/dh_t||_2"], d.jac_prod_norm)
        np.testing.assert_array_equal(cols[f"{kind} ||dh_t/dh_t-1||_2"], d.jac_step_norm)
        np.testing.assert_array_equal(cols[f"{kind} ||dL/dW_hh term t||"], d.whh_contrib)
        np.testing.assert_array_equal(cols[f"{kind} log10 ||dh_T/dh_t||_2"], d.log10_jac_prod)
        np.testing.assert_array_equal(cols[f"{kind} log10 ||dh_t/dh_t-1||_2"], d.log10_jac_step)
        np.testing.assert_array_equal(cols[f"{kind} log10 ||dL/dW_hh term t||"], d.log10_whh)
    np.testing.assert_array_equal(cols["lstm cell path direct ||diag(f_t)||"],
                                  session.runs["lstm"].diagnostics.cell_direct)


def test_set_theme_recolours(panel):
    panel.set_theme(DARK)
    for w in panel.widgets:
        assert w.backgroundBrush().color().name() == DARK.background
    assert panel.curves[0].item.opts["pen"].color().name() == DARK.model_color("rnn").name()


def test_render_png(panel, session, qtbot):
    panel.resize(700, 400)
    panel.show()
    qtbot.waitExposed(panel)
    session.seek_to(BACKWARD, 8)
    panel.grab().save("/tmp/panel_jacobians.png")
