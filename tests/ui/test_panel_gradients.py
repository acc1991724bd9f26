"""GradientPanel: ||dL/dh_t|| revealed with the backward pass, the RNN bound, ratios, overflow."""

import numpy as np
import pytest

from lstmviz.config import Config
from lstmviz.numfmt import format_magnitude
from lstmviz.session import BACKWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.gradients import BOUND_LABEL, GradientPanel
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
    p = GradientPanel(SessionAdapter(session))
    qtbot.addWidget(p)
    return p


def test_curves_follow_the_backward_pass(panel, session):
    for i in range(session.n_frames):
        session.seek(i)
        frame = session.frame
        for kind, run in session.runs.items():
            d = run.diagnostics
            series = panel.series[kind]
            assert len(series) == (2 if kind == "lstm" else 1)
            for s, values in zip(series, (d.log10_grad_h, d.log10_grad_c), strict=False):
                x, y = xy(s.item)
                if frame.phase != BACKWARD:
                    assert x.size == 0
                    continue
                t = frame.bwd_t
                np.testing.assert_array_equal(x, np.arange(t, T + 1))
                np.testing.assert_allclose(y, values[t - 1:])
        assert panel.cursor.value() == frame.t


def test_rnn_bound_lies_above_the_rnn_gradient(panel, session):
    session.to_end()
    names = [label.text for _, label in panel.legend.items]
    assert BOUND_LABEL in names
    assert "LSTM ‖dL/dc‖ ┄" in names
    _, yb = xy(panel.bound.item)
    _, yh = xy(panel.series["rnn"][0].item)
    assert yb.shape == yh.shape == (T,)
    assert np.all(yb >= yh - 1e-9)
    d = session.runs["rnn"].diagnostics
    sg = d.rnn_bound
    expected = np.log10(d.grad_h_norm[-1]) + (T - np.arange(1, T + 1)) * np.log10(sg)
    np.testing.assert_allclose(yb, expected)
    assert f"σ_max·γ = {sg:.2f}" in panel.notes.toPlainText()


def test_ratio_is_written_as_the_backward_pass_goes(panel, session):
    session.seek_to(BACKWARD, T)
    assert "/ ‖dL/dh_T‖" not in panel.notes.toPlainText()
    session.seek_to(BACKWARD, 12)
    text = panel.notes.toPlainText()
    assert "‖dL/dh₁₂‖ / ‖dL/dh_T‖" in text
    session.to_end()
    text = panel.notes.toPlainText()
    for run in session.runs.values():
        g = run.diagnostics.log10_grad_h
        assert f"{run.label}: ‖dL/dh₁‖ / ‖dL/dh_T‖ = {format_magnitude(g[0] - g[-1])}" in text
    c = session.runs["lstm"].diagnostics.log10_grad_c
    assert f"‖dL/dc₁‖ / ‖dL/dc_T‖ = {format_magnitude(c[0] - c[-1])}" in text


def test_fixed_ranges_cover_the_data(panel, session):
    (x0, x1), (y0, y1) = panel.plot.viewRange()
    assert x0 <= 1 and x1 >= T and x1 < T + 1
    logs = np.concatenate([np.log10(r.diagnostics.grad_h_norm) for r in session.runs.values()])
    assert y0 < logs.min() and y1 > logs.max()
    session.to_end()
    assert panel.plot.viewRange()[1] == [y0, y1]


@pytest.mark.parametrize(("kw", "where"), [
    # the forward pass stops being finite at t = 312: everything backward is NaN
    (dict(init="orthogonal", weight_scale=10.0, seq_len=320, hidden_size=2), "forward"),
    # finite forward (max 4e188), float64 gradients pass 1.8e308 from t = 145 down
    (dict(init="orthogonal", weight_scale=3.0, seq_len=400, hidden_size=5, seed=1), "backward"),
])
def test_overflow_note_and_no_exception(qtbot, kw, where):
    session = Session(Config(models=("rnn",), activation="relu", **kw))
    run = session.runs["rnn"]
    assert run.overflow_step is not None
    assert (run.trace.overflow_step is None) == (where == "backward")
    panel = GradientPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    k = run.overflow_step + 1
    for i in range(session.n_frames):
        session.seek(i)
        known = f"overflow at t = {k}" in panel.overflow.toPlainText()
        frame = session.frame
        if run.trace.overflow_step is None:  # overflows in the backward pass
            assert known == (frame.bwd_t <= k)
        elif frame.fwd_t >= k:
            assert known
    x, y = xy(panel.series["rnn"][0].item)
    if where == "backward":  # the logs go on exactly past float64: 10^376, nothing clipped
        assert x.size == session.seq_len and np.all(np.isfinite(y))
        np.testing.assert_array_equal(y, run.diagnostics.log10_grad_h)
        assert y.max() > 308
        assert format_magnitude(y[0] - y[-1]) in panel.notes.toPlainText()
    else:
        assert x.size == 0
    y0, y1 = panel.plot.viewRange()[1]
    assert np.isfinite(y0) and np.isfinite(y1)


def test_no_clamp_far_below_float64(qtbot):
    """A tanh RNN with sigma_max 0.3 at T = 1000: the curve and the printed ratio reach
    10^-500 and beyond (the panel used to floor at 10^-30)."""
    session = Session(Config(models=("rnn",), weight_scale=0.3, seq_len=1000, hidden_size=8))
    panel = GradientPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    session.to_end()
    d = session.runs["rnn"].diagnostics
    _, y = xy(panel.series["rnn"][0].item)
    np.testing.assert_array_equal(y, d.log10_grad_h)
    assert y.min() < -400
    assert panel.plot.viewRange()[1][0] < y.min()
    ratio = d.log10_grad_h[0] - d.log10_grad_h[-1]
    assert f"‖dL/dh₁‖ / ‖dL/dh_T‖ = {format_magnitude(ratio)}" in panel.notes.toPlainText()
    assert panel.ratio_log10("rnn", 1) == ratio
    panel.set_y_range_exponents(-50.0, 2.0)
    assert panel.plot.viewRange()[1] == [-50.0, 2.0]


def test_no_bound_when_the_loss_is_at_every_step(qtbot):
    session = Session(Config(models=("rnn",), seq_len=T, hidden_size=8,
                             task="sine", loss_where="every"))
    panel = GradientPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    session.to_end()
    assert panel.bound is None
    assert BOUND_LABEL not in [label.text for _, label in panel.legend.items]
    assert "σ_max·γ" in panel.notes.toPlainText()


def test_data_columns_equal_engine_arrays(panel, session):
    cols = panel.data_columns()
    assert all(len(v) == T for v in cols.values())
    np.testing.assert_array_equal(cols["t"], np.arange(1, T + 1))
    for kind, run in session.runs.items():
        np.testing.assert_array_equal(cols[f"{kind} ||dL/dh_t||"], run.diagnostics.grad_h_norm)
        np.testing.assert_array_equal(cols[f"{kind} log10 ||dL/dh_t||"],
                                      run.diagnostics.log10_grad_h)
    assert cols["t"].dtype.kind == "i"
    np.testing.assert_array_equal(cols["lstm log10 ||dL/dc_t||"],
                                  session.runs["lstm"].diagnostics.log10_grad_c)
    np.testing.assert_array_equal(cols["lstm ||dL/dc_t||"],
                                  session.runs["lstm"].diagnostics.grad_c_norm)


def test_set_theme_recolours(panel, session):
    session.to_end()
    panel.set_theme(DARK)
    assert panel.plot_widget.backgroundBrush().color().name() == DARK.background
    pen = panel.series["rnn"][0].item.opts["pen"]
    assert pen.color().name() == DARK.model_color("rnn").name()
    assert xy(panel.series["rnn"][0].item)[0].size == T


def test_render_png(panel, session, qtbot):
    panel.resize(700, 400)
    panel.show()
    qtbot.waitExposed(panel)
    session.seek_to(BACKWARD, 8)
    assert not panel.grab().isNull()
    panel.grab().save("/tmp/panel_gradients.png")
