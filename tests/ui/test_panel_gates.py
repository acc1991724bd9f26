"""GatesPanel: LSTM input/forget/output and GRU reset/update gate heatmaps, revealed forward."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.config import Config
from lstmviz.session import FORWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.gates import GatesPanel, gates_of
from lstmviz.ui.theme import DARK

T, H = 30, 8
SHOWN = [("lstm", "input"), ("lstm", "forget"), ("lstm", "output"), ("gru", "reset"),
         ("gru", "update")]


@pytest.fixture
def session():
    return Session(Config(models=("rnn", "lstm", "gru"), seq_len=T, hidden_size=H))


@pytest.fixture
def panel(qtbot, session):
    p = GatesPanel(SessionAdapter(session))
    qtbot.addWidget(p)
    return p


def test_one_heatmap_per_gate_and_note_for_rnn(panel):
    assert panel.kinds == ("lstm", "gru")
    assert [(k, key) for k in panel.kinds for key, _s, _t in gates_of(k)] == SHOWN
    assert len(panel.plot_items()) == 5
    assert "RNN" in panel.note.text() and not panel.note.isHidden()
    assert "LSTM" in panel.heatmaps["lstm", "input"].plot.titleLabel.text
    assert "reset gate r" in panel.heatmaps["gru", "reset"].plot.titleLabel.text
    for key in SHOWN:
        img = panel.heatmaps[key].image
        assert img.image.shape == (H, T)
        assert tuple(img.getLevels()) == (0.0, 1.0)


def test_reveal_follows_the_forward_pass(panel, session):
    for i in range(session.n_frames):
        session.seek(i)
        frame = session.frame
        k = frame.fwd_t
        for kind, key in SHOWN:
            hm = panel.heatmaps[kind, key]
            img = hm.image.image
            gate = session.runs[kind].trace.gates[key]
            np.testing.assert_array_equal(img[:, :k], gate[:k, 0, :].T)
            assert np.isnan(img[:, k:]).all()
            assert hm.cursor.value() == frame.t
    session.seek_to(FORWARD, 1)
    img = panel.heatmaps["gru", "update"].image.image
    assert np.isfinite(img[:, 0]).all() and np.isnan(img[:, 1:]).all()


def test_data_columns(panel, session):
    cols = panel.data_columns()
    assert len(cols) == 1 + 5 * H
    assert {len(v) for v in cols.values()} == {T}
    np.testing.assert_array_equal(cols["lstm i_t[unit 2]"],
                                  session.runs["lstm"].trace.gates["input"][:, 0, 2])
    np.testing.assert_array_equal(cols["gru r_t[unit 7]"],
                                  session.runs["gru"].trace.gates["reset"][:, 0, 7])


def test_rnn_only_and_exploding(qtbot):
    # overflow = a value stops being finite in float64 (orthogonal init, scale 10: t = 381)
    session = Session(Config(models=("rnn",), activation="relu", weight_scale=10.0,
                             init="orthogonal", seq_len=500, hidden_size=16))
    assert session.runs["rnn"].overflow_step is not None
    panel = GatesPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    for i in range(0, session.n_frames, 11):
        session.seek(i)
    assert panel.kinds == ()
    assert panel.view.isHidden()
    assert "no gates" in panel.note.text()  # the gates panel's note
    assert panel.data_columns() == {}


def test_non_finite_gate_is_clipped_with_a_note(qtbot):
    session = Session(Config(models=("gru",), seq_len=T, hidden_size=H))
    run = session.runs["gru"]
    gate = np.array(run.trace.gates["reset"])
    gate[20:, 0, :] = np.nan
    trace = dataclasses.replace(run.trace, gates={**run.trace.gates, "reset": gate})
    session.apply(session.config, {"gru": dataclasses.replace(run, trace=trace)})
    panel = GatesPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    panel.show()
    for i in range(session.n_frames):
        session.seek(i)
    QApplication.processEvents()
    hm = panel.heatmaps["gru", "reset"]
    assert hm.note.isVisible() and hm.note.toPlainText() == "overflow at t = 21"
    assert not panel.heatmaps["gru", "update"].note.isVisible()


def test_models_change_and_theme(panel, session):
    session.set_config(session.config.replace(models=("lstm",), hidden_size=4))
    assert panel.kinds == ("lstm",)
    assert panel.note.isHidden()
    assert panel.heatmaps["lstm", "output"].image.image.shape == (4, T)
    panel.set_theme(DARK)
    assert panel.view.backgroundBrush().color().name() == DARK.background
    assert panel.heatmaps["lstm", "output"].image.image.shape == (4, T)


def test_render_png(panel, qtbot):
    panel.adapter.session.seek_to(FORWARD, 22)
    panel.resize(700, 400)
    panel.show()
    qtbot.waitExposed(panel)
    QApplication.processEvents()
    assert panel.grab().save("/tmp/panel_gates.png")


def test_narrow_panel_stacks_the_gates(panel, qtbot):
    panel.resize(300, 500)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.n_columns == 1
    layout = panel.view.ci
    rows = [layout.items[panel.heatmaps[key].plot][0] for key in SHOWN]
    assert rows == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]
    panel.resize(800, 500)
    QApplication.processEvents()
    assert panel.n_columns == 3  # the LSTM's three gates side by side, the GRU's below
    assert layout.items[panel.heatmaps["gru", "update"].plot][0] == (1, 1)
