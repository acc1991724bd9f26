"""A window with all eight built-in kinds: it opens at 1280 x 720, renders every panel, and
every panel shows each kind's data or the note saying why a quantity does not exist."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from lstmviz.config import Config
from lstmviz.engine import cells
from lstmviz.session import BACKWARD

ALL = Config(models=cells.BUILTIN, seq_len=12, hidden_size=5)


def test_every_panel_shows_every_kind_or_says_why(make_window, qtbot):
    window = make_window(ALL, show=False)
    window.resize(1280, 720)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    QApplication.processEvents()
    assert (window.width(), window.height()) == (1280, 720)  # eight kinds fit
    assert all(box.isVisible() for box in window.controls.model_boxes.values())
    session = window.session
    for i in range(session.n_frames):  # forward, loss, backward: no exception
        session.seek(i)
    session.seek_to(BACKWARD, 1)
    QApplication.processEvents()
    panels = window.panels
    for name, panel in panels.items():
        img = panel.grab()
        assert not img.isNull() and img.width() > 0, name
    labels = {k: cells.get(k).label for k in ALL.models}

    grads = panels["gradients"].data_columns()
    for kind in ALL.models:
        assert np.isfinite(grads[f"{kind} log10 ||dL/dh_t||"]).all(), kind
    notes = panels["gradients"].notes.toPlainText()
    no_bound = [labels[k] for k in ALL.models if not cells.get(k).bound_applies]
    assert "no σ_max·γ bound for " + ", ".join(no_bound) in notes
    assert "sLSTM" in panels["gradients"].notes.toolTip()

    jac = panels["jacobians"]
    cols = jac.data_columns()
    whh_note = jac.whh_note.toPlainText()
    for kind in ALL.models:
        assert f"{kind} log10 ||dh_T/dh_t||_2" in cols
        if cells.get(kind).recurrent is None:
            assert np.isnan(cols[f"{kind} log10 ||dL/dW_hh term t||"]).all()
            assert labels[kind] in whh_note and "no recurrent matrix" in whh_note
        else:
            assert np.isfinite(cols[f"{kind} log10 ||dL/dW_hh term t||"][1:]).all(), kind

    forget = panels["forget"]
    for kind in ALL.models:
        if cells.get(kind).keep is None:
            assert f"{labels[kind]}: {cells.get(kind).keep_note}" in forget.note.text()
        else:
            assert kind in forget.kinds
    fcols = forget.data_columns()
    assert "lstm mean f_t" in fcols and "gru mean z_t" in fcols  # the public names stay
    assert "mingru mean keep_t" in fcols and "lru mean modulus_t" in fcols

    gates = panels["gates"]
    for kind in ALL.models:
        assert kind in gates.kinds or labels[kind] in gates.note.text(), kind

    cellstate = panels["cellstate"].data_columns()
    for kind in ALL.models:
        assert any(k.startswith(f"{kind} ") for k in cellstate), kind

    inspector = panels["inspector"]
    inspector.follow.setChecked(False)
    for kind in ALL.models:
        window.adapter.select(kind, 4)
        QApplication.processEvents()
        assert inspector.kind == kind
        cols = inspector.data_columns()
        spec = cells.get(kind)
        for g in spec.gates:
            assert f"{kind} {g.name} (t=4)" in cols, (kind, g.name)
        assert spec.equations and inspector.formula.text() == spec.equations
    eig, dots, _circle = inspector.eig_plots["lru"]
    x, y = dots.getData()
    lam = session.runs["lru"].model.cell.eigenvalues(session.runs["lru"].model.params)
    np.testing.assert_allclose(np.hypot(x, y), np.abs(lam))
    assert np.all(np.hypot(x, y) < 1.0)  # inside the unit circle: the state decays


def test_diagonal_rows_are_marked_in_the_unrolled_view(make_window):
    window = make_window(ALL)
    rows = window.unrolled.rows
    for kind, row in rows.items():
        assert row.diagonal == (cells.get(kind).recurrent != "dense"), kind
        assert row.is_lstm == cells.get(kind).has_cell


def test_settings_that_do_not_apply_say_so(make_window):
    from lstmviz.session import Session

    session = Session(Config(models=("rnn", "mingru", "lru"), init="orthogonal", seq_len=5,
                             hidden_size=3))
    assert session.runs["rnn"].notes == ()
    assert "init 'orthogonal' does not apply to the minGRU" in session.runs["mingru"].notes[0]
    assert "its default 'ring' is used" in session.runs["lru"].notes[0]
