"""InspectorPanel: the selected cell's gates, state path and dL/dh_t per unit."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.config import Config
from lstmviz.numfmt import format_magnitude
from lstmviz.session import BACKWARD, FORWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.inspector import InspectorPanel
from lstmviz.ui.theme import DARK

T, H = 30, 8


@pytest.fixture
def session():
    return Session(Config(models=("rnn", "lstm", "gru"), seq_len=T, hidden_size=H))


@pytest.fixture
def adapter(session):
    return SessionAdapter(session)


@pytest.fixture
def panel(qtbot, adapter):
    p = InspectorPanel(adapter)
    qtbot.addWidget(p)
    return p


def heights(bar):
    return None if not bar.isVisible() else np.asarray(bar.opts["height"])


def test_follows_the_cursor_by_default(panel, session):
    assert panel.follow.isChecked()
    session.seek_to(FORWARD, 7)
    assert panel.cell() == ("rnn", 7)
    assert panel.kind == "rnn"
    assert "RNN" in panel.header.text() and "t = 7" in panel.header.text()
    assert "forward" in panel.header.text()
    pre = session.runs["rnn"].trace.gates["pre"][6, 0]
    np.testing.assert_array_equal(heights(panel.gate_plots["rnn"][0].bars[0]),
                                  np.clip(pre, *panel.gate_plots["rnn"][0].range))


def test_lstm_cell_values_and_cell_path(panel, adapter, session):
    adapter.select("lstm", 12)
    assert not panel.follow.isChecked()  # a click pins the cell
    tr = session.runs["lstm"].trace
    for i in range(session.n_frames):
        session.seek(i)
        frame = session.frame
        assert "LSTM</b> · t = 12 · " + frame.phase in panel.header.text()
        gates = panel.gate_plots["lstm"]
        if frame.fwd_t < 12:
            assert panel.status.text() == "not computed yet — step forward to t = 12"
            assert not panel.status.isHidden()
            assert all(heights(bp.bars[0]) is None for bp in gates)
            assert panel.data_columns() == {}
            continue
        assert panel.status.isHidden()
        for bp, key in zip(gates, ("input", "forget", "cell", "output"), strict=True):
            np.testing.assert_array_equal(heights(bp.bars[0]), tr.gates[key][11, 0])
        path = [heights(b) for b in panel.path_plots["lstm"].bars]
        c_prev, c_t = tr.c[10, 0], tr.c[11, 0]
        np.testing.assert_allclose(path[0], c_prev)
        np.testing.assert_allclose(path[1], tr.gates["forget"][11, 0] * c_prev)
        np.testing.assert_allclose(path[2], tr.gates["input"][11, 0] * tr.gates["cell"][11, 0])
        np.testing.assert_allclose(path[3], c_t)
        np.testing.assert_allclose(path[1] + path[2], path[3])
        grad = heights(panel.grad_plots["lstm"].bars[0])
        if frame.bwd_t <= 12:
            dh = session.runs["lstm"].grads.h[11, 0]
            np.testing.assert_array_equal(grad, dh)
            d = session.runs["lstm"].diagnostics
            assert format_magnitude(d.log10_grad_h[11]) in panel.grad_label.text()
            assert np.linalg.norm(dh) == pytest.approx(10 ** d.log10_grad_h[11], rel=1e-12)
            assert "dL/dc" in panel.grad_label.text()
        else:
            assert grad is None
            assert "not reached yet" in panel.grad_label.text()
    cols = panel.data_columns()
    assert {len(v) for v in cols.values()} == {H}
    np.testing.assert_array_equal(cols["lstm forget (t=12)"], tr.gates["forget"][11, 0])
    np.testing.assert_array_equal(cols["lstm dL/dh (t=12)"],
                                  session.runs["lstm"].grads.h[11, 0])


def test_first_step_uses_the_initial_state(panel, adapter, session):
    adapter.select("gru", 1)
    session.to_end()
    tr = session.runs["gru"].trace
    path = [heights(b) for b in panel.path_plots["gru"].bars]
    np.testing.assert_array_equal(path[0], tr.h0[0])
    z = tr.gates["update"][0, 0]
    np.testing.assert_allclose(path[2], (1 - z) * tr.gates["new"][0, 0])
    np.testing.assert_allclose(path[1] + path[2], tr.h[0, 0])
    assert panel.stack.currentWidget() is panel.pages["gru"]
    assert "z plays the role" in panel.formula.text()


def test_rnn_shows_pre_activation_and_gain(panel, adapter, session):
    adapter.select("rnn", 5)
    session.seek_to(BACKWARD, 3)
    tr = session.runs["rnn"].trace
    pre, dphi = panel.gate_plots["rnn"]
    np.testing.assert_array_equal(heights(pre.bars[0]), tr.gates["pre"][4, 0])
    np.testing.assert_array_equal(heights(dphi.bars[0]), tr.gates["dphi"][4, 0])
    assert "φ′" in panel.formula.text()


def test_model_box_and_fallback_when_models_change(panel, adapter, session):
    assert [panel.model_box.itemData(i) for i in range(panel.model_box.count())] == [
        "rnn", "lstm", "gru"]
    panel.model_box.setCurrentIndex(2)
    panel.model_box.activated.emit(2)
    assert adapter.selected[0] == "gru"
    assert panel.follow.isChecked()  # choosing a model does not unpin the cursor
    assert panel.kind == "gru"
    session.set_config(session.config.replace(models=("lstm",)))
    assert adapter.selected[0] == "gru"
    assert panel.cell()[0] == "lstm"
    assert panel.kind == "lstm" and "LSTM" in panel.header.text()
    assert panel.model_box.count() == 1


def test_follow_again_after_a_click(panel, adapter, session):
    adapter.select("lstm", 3)
    session.seek_to(FORWARD, 9)
    assert "t = 3" in panel.header.text()
    panel.follow.setChecked(True)
    assert "t = 9" in panel.header.text()


def test_exploding_rnn_gradient_shows_overflow(qtbot):
    session = Session(Config(models=("rnn",), activation="relu", init="orthogonal",
                             weight_scale=3.0, seq_len=400, hidden_size=5, seed=1))
    k = session.runs["rnn"].overflow_step
    assert k is not None and session.runs["rnn"].trace.overflow_step is None
    adapter = SessionAdapter(session)
    panel = InspectorPanel(adapter)
    qtbot.addWidget(panel)
    for i in range(0, session.n_frames, 3):
        session.seek(i)
    adapter.select("rnn", max(k - 5, 1))
    session.to_end()
    assert f"overflow at t = {k + 1}" in panel.grad_label.text()
    # the norm beyond float64 is written exactly, the same figure the status bar shows
    d = session.runs["rnn"].diagnostics
    assert d.log10_grad_h[k - 5 - 1] > 308
    figure = format_magnitude(d.log10_grad_h[k - 6])
    assert f"‖dL/dh<sub>t</sub>‖ = {figure}" in panel.grad_label.text()
    assert np.isfinite(heights(panel.grad_plots["rnn"].bars[0])).all()
    for bp in panel.gate_plots["rnn"]:
        assert np.isfinite(heights(bp.bars[0])).all()


def test_forward_overflow_is_clipped_with_a_note(qtbot):
    session = Session(Config(models=("lstm",), seq_len=T, hidden_size=H))
    run = session.runs["lstm"]
    c = np.array(run.trace.c)
    c[19:] = np.inf
    gates = {key: np.array(g) for key, g in run.trace.gates.items()}
    gates["forget"][20:] = np.nan
    trace = dataclasses.replace(run.trace, c=c, gates=gates, overflow_step=19)
    session.apply(session.config, {"lstm": dataclasses.replace(run, trace=trace)})
    adapter = SessionAdapter(session)
    panel = InspectorPanel(adapter)
    qtbot.addWidget(panel)
    adapter.select("lstm", 25)
    for i in range(session.n_frames):
        session.seek(i)
    assert "overflow at t = 20" in panel.status.text() and not panel.status.isHidden()
    for bp in panel.gate_plots["lstm"]:
        assert np.isfinite(heights(bp.bars[0])).all()
    for bar in panel.path_plots["lstm"].bars:
        assert np.isfinite(heights(bar)).all()
    adapter.select("lstm", 5)
    assert panel.status.isHidden()


def test_pages_are_made_when_their_model_is_shown(panel, adapter):
    # launch cost: one page (a grid of plots) for the model on show, not one per model
    shown = panel.cell()[0]
    assert list(panel.pages) == [shown]
    other = next(k for k in adapter.session.runs if k != shown)
    adapter.select(other, 3)
    assert other in panel.pages and panel.stack.currentWidget() is panel.pages[other]
    assert panel.kind == other and panel.gate_plots[other]


def test_set_theme_recolours(panel, adapter):
    panel.set_theme(DARK)
    adapter.select("lstm", 1)  # (a page made after the switch takes the theme too)
    assert panel.pages["lstm"].backgroundBrush().color().name() == DARK.background
    brush = panel.gate_plots["lstm"][0].bars[0].opts["brush"]
    assert brush.color().name() == DARK.model_color("lstm").name()


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_render_png(panel, adapter, qtbot, kind):
    session = adapter.session
    adapter.select(kind, 16)
    session.seek_to(BACKWARD, 10)
    panel.resize(340, 780)
    panel.show()
    qtbot.waitExposed(panel)
    QApplication.processEvents()
    assert panel.grab().save(f"/tmp/panel_inspector_{kind}.png")
