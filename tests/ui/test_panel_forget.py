"""ForgetPanel: f_t (LSTM) and z_t (GRU) heatmaps revealed with the forward pass."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.config import Config
from lstmviz.session import FORWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.forget import ForgetPanel
from lstmviz.ui.theme import DARK

T, H = 30, 8


@pytest.fixture
def session():
    return Session(Config(models=("rnn", "lstm", "gru"), seq_len=T, hidden_size=H))


@pytest.fixture
def panel(qtbot, session):
    p = ForgetPanel(SessionAdapter(session))
    qtbot.addWidget(p)
    return p


def shown(panel, kind):
    return panel.heatmaps[kind].image.image


def test_heatmaps_for_gated_models_and_note_for_rnn(panel):
    assert panel.kinds == ("lstm", "gru")
    assert not panel.note.isHidden()
    assert "RNN" in panel.note.text() and "has no gate" in panel.note.text()
    assert "forget gate" in panel.heatmaps["lstm"].plot.titleLabel.text
    assert "update gate z" in panel.heatmaps["gru"].plot.titleLabel.text
    for kind in panel.kinds:
        assert shown(panel, kind).shape == (H, T)
        assert tuple(panel.heatmaps[kind].image.getLevels()) == (0.0, 1.0)
    assert len(panel.plot_items()) == 3


def test_reveal_follows_the_forward_pass(panel, session):
    gates = {"lstm": session.runs["lstm"].trace.gates["forget"],
             "gru": session.runs["gru"].trace.gates["update"]}
    buffers = {k: shown(panel, k) for k in panel.kinds}
    for i in range(session.n_frames):
        session.seek(i)
        frame = session.frame
        k = frame.fwd_t
        for kind in panel.kinds:
            img = shown(panel, kind)
            assert img.shape == (H, T)
            assert np.shares_memory(img, buffers[kind])  # no per-frame allocation
            np.testing.assert_array_equal(img[:, :k], gates[kind][:k, 0, :].T)
            assert np.isnan(img[:, k:]).all()
            assert panel.heatmaps[kind].cursor.value() == frame.t
            x, y = panel.curves[kind].getData()
            x = np.asarray(x if x is not None else [])
            assert len(x) == k
            if k:
                np.testing.assert_allclose(y, gates[kind][:k, 0, :].mean(axis=1))
        assert panel.mean_cursor.value() == frame.t
    # stepping back hides columns again
    session.seek_to(FORWARD, 5)
    img = shown(panel, "lstm")
    assert np.isfinite(img[:, :5]).all() and np.isnan(img[:, 5:]).all()


def test_fixed_ranges(panel):
    session = panel.adapter.session
    session.seek_to(FORWARD, 3)
    vb = panel.heatmaps["lstm"].plot.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 == pytest.approx(0.5) and x1 == pytest.approx(T + 0.5)
    assert y0 == pytest.approx(-0.5) and y1 == pytest.approx(H - 0.5)
    _, (m0, m1) = panel.mean.getViewBox().viewRange()
    assert m0 < 0.0 < 1.0 < m1


def test_data_columns(panel, session):
    cols = panel.data_columns()
    assert {len(v) for v in cols.values()} == {T}
    np.testing.assert_array_equal(cols["t"], np.arange(1, T + 1))
    f = session.runs["lstm"].trace.gates["forget"][:, 0, :]
    z = session.runs["gru"].trace.gates["update"][:, 0, :]
    np.testing.assert_array_equal(cols["lstm f_t[unit 3]"], f[:, 3])
    np.testing.assert_array_equal(cols["gru z_t[unit 0]"], z[:, 0])
    np.testing.assert_allclose(cols["lstm mean f_t"], f.mean(axis=1))


def test_rnn_only_shows_only_the_note(qtbot):
    session = Session(Config(models=("rnn",), seq_len=T, hidden_size=H))
    panel = ForgetPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    assert panel.kinds == ()
    assert panel.view.isHidden() and not panel.note.isHidden()
    assert "has no gate" in panel.note.text()
    assert panel.data_columns() == {}
    assert panel.plot_items() == []


def test_models_change_rebuilds_layout(panel, session):
    session.set_config(session.config.replace(models=("gru",), hidden_size=5))
    assert panel.kinds == ("gru",)
    assert panel.note.isHidden()
    assert shown(panel, "gru").shape == (5, T)
    session.set_config(session.config.replace(models=("lstm", "rnn")))
    assert panel.kinds == ("lstm",)
    assert not panel.note.isHidden()


def test_batch_element_zero(qtbot):
    session = Session(Config(models=("lstm",), seq_len=T, hidden_size=H, batch_size=3))
    panel = ForgetPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    session.to_end()
    np.testing.assert_array_equal(shown(panel, "lstm"),
                                  session.runs["lstm"].trace.gates["forget"][:, 0, :].T)


def test_exploding_rnn_does_not_raise(qtbot):
    # overflow = a value stops being finite in float64 (orthogonal init, scale 10: t = 381)
    session = Session(Config(models=("rnn",), activation="relu", weight_scale=10.0,
                             init="orthogonal", seq_len=500, hidden_size=16))
    assert session.runs["rnn"].overflow_step is not None
    panel = ForgetPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    for i in range(0, session.n_frames, 7):
        session.seek(i)
    assert "has no gate" in panel.note.text()


def test_non_finite_gates_are_clipped_with_a_note(qtbot):
    """Gates are bounded, but NaN from an overflowed state must not raise."""
    session = Session(Config(models=("lstm", "gru"), seq_len=T, hidden_size=H))
    runs = dict(session.runs)
    for kind, key in (("lstm", "forget"), ("gru", "update")):
        run = runs[kind]
        gate = np.array(run.trace.gates[key])
        gate[12, 0, 2] = np.nan
        gate[13, 0, 1] = np.inf
        gates = {**run.trace.gates, key: gate}
        runs[kind] = dataclasses.replace(run, trace=dataclasses.replace(run.trace, gates=gates))
    session.apply(session.config, runs)
    panel = ForgetPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    panel.resize(600, 400)
    panel.show()
    for i in range(session.n_frames):
        session.seek(i)
        QApplication.processEvents()
        hm = panel.heatmaps["lstm"]
        assert hm.note.isVisible() == (session.frame.fwd_t >= 13)
    assert hm.note.toPlainText() == "overflow at t = 13"
    assert np.isnan(shown(panel, "lstm")[:, 12:]).all()
    assert np.isfinite(shown(panel, "lstm")[:, :12]).all()
    x, y = panel.curves["lstm"].getData()
    assert np.isfinite(y[:12]).all() and np.isnan(y[12:]).all()


def test_set_theme_recolours(panel):
    before = panel.view.backgroundBrush().color().name()
    panel.set_theme(DARK)
    assert panel.view.backgroundBrush().color().name() == DARK.background != before
    assert panel.curves["lstm"].opts["pen"].color().name() == DARK.model_color("lstm").name()
    assert shown(panel, "lstm").shape == (H, T)


def test_render_png(panel, qtbot):
    session = panel.adapter.session
    session.seek_to(FORWARD, 20)
    panel.resize(700, 400)
    panel.show()
    qtbot.waitExposed(panel)
    QApplication.processEvents()
    assert panel.grab().save("/tmp/panel_forget.png")


def test_hover_text_names_unit_step_and_value(panel, session):
    session.seek_to(FORWARD, 5)
    image = panel.heatmaps["lstm"].image
    f = session.runs["lstm"].trace.gates["forget"][2, 0, 3]
    assert image.describe(2.5, 3.5) == f"unit 3 · t = 3 · f = {f:.3f}"
    assert image.describe(10.5, 1.0) == ""  # not revealed yet
    assert image.describe(-1.0, 1.0) == ""
    assert panel.heatmaps["gru"].image.describe(0.2, 0.2).startswith("unit 0 · t = 1 · z = ")
