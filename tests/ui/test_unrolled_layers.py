"""The unrolled view of stacked models: a grid (rows = layers, columns = steps) whose backward
arrows run left through time and down through depth on one log scale."""

import numpy as np
from PySide6.QtCore import QPointF

from lstmviz.config import Config
from lstmviz.session import Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.unrolled import ROW_H, UnrolledView, cell_x


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


def _shown_view(qtbot, held, size, **config):
    session = Session(Config(**config))
    adapter = SessionAdapter(session)
    view = UnrolledView(adapter)
    held.append(view)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return session, adapter, view


def _names_stay_beside_the_cells(view, qtbot):
    """The row names: in the left margin, outside the scrolled viewport, apart."""
    vp = view.viewport().geometry()
    labels = view.labels.geometry()
    assert labels.right() < vp.left() and labels.width() == view.label_margin()
    lines = view.labels.lines()
    for text, rect, font, _c in lines:
        assert rect.right() <= view.labels.width()
        from PySide6.QtGui import QFontMetrics

        assert QFontMetrics(font).horizontalAdvance(text) <= rect.width()  # never cut
    shown = sorted((r for _t, r, _f, _c in lines if r.bottom() > 0 and r.top() < vp.height()),
                   key=lambda r: r.top())
    for a, b in zip(shown, shown[1:], strict=False):
        assert a.bottom() <= b.top() + 0.5  # no two lines overlap
    return {t: r for t, r, _f, _c in lines}


def test_layer_names_in_a_margin_that_does_not_scroll(qtbot, held):
    _session, adapter, view = _shown_view(qtbot, held, (900, 500), models=("lstm",),
                                          seq_len=200, hidden_size=4, num_layers=3)
    names = _names_stay_beside_the_cells(view, qtbot)
    assert {"LSTM", "layer 3 (top)", "layer 2", "layer 1"} <= set(names)
    # bottom = 1: layer 1 is the lowest row of the grid
    assert names["layer 1"].top() > names["layer 2"].top() > names["layer 3 (top)"].top()
    before = view.labels.geometry()
    bar = view.horizontalScrollBar()
    assert bar.maximum() > 0  # T = 200 scrolls
    bar.setValue(bar.maximum())
    qtbot.wait(5)
    assert view.labels.geometry() == before  # the names do not scroll away
    # the first cell on screen starts right of the margin, whatever the scroll
    first = view.mapFromScene(QPointF(cell_x(1), 0)).x()
    bar.setValue(bar.minimum())
    assert view.mapFromScene(QPointF(cell_x(1), 0)).x() + view.viewport().x() > (
        view.labels.geometry().right())
    assert first < 0  # (scrolled: cell 1 was off the viewport's left edge)
    view.fit()  # the smallest zoom: lines that do not fit a row are left out, none overlap
    qtbot.wait(5)
    names = _names_stay_beside_the_cells(view, qtbot)
    assert {"layer 3 (top)", "layer 2", "layer 1"} <= set(names)
    # the layer the one-layer panels show is the one in bold
    bold = {t for t, _r, f, _c in view.labels.lines() if f.bold()}
    assert "layer 3 (top)" in bold and "layer 1" not in bold
    adapter.set_layer(0)
    bold = {t for t, _r, f, _c in view.labels.lines() if f.bold()}
    assert "layer 1" in bold and "layer 3 (top)" not in bold


def test_a_click_on_a_layers_cell_shows_that_layer(qtbot, held):
    from PySide6.QtCore import Qt

    _session, adapter, view = _shown_view(qtbot, held, (900, 600), models=("gru",),
                                          seq_len=8, hidden_size=3, num_layers=2)
    low = view.layer_rows[0]
    centre = low.mapToScene(low.cell_rect(4).center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(centre))
    assert adapter.layer == 0 and adapter.selected == ("gru", 4)
    top = view.rows["gru"]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(top.mapToScene(top.cell_rect(2).center())))
    assert adapter.layer is None and adapter.selected == ("gru", 2)


def test_the_legend_never_covers_a_cell(qtbot, held):
    # six models scroll vertically in a short view: the legend sits in its own margin under
    # the viewport (as the row names sit in theirs), never over the rows, however scrolled
    _s, _a, view = _shown_view(qtbot, held, (620, 260), seq_len=30, hidden_size=4,
                       models=("rnn", "lstm", "gru", "indrnn", "mingru", "lru"))
    vp = view.viewport().geometry()
    assert view.legend.isVisible()
    for value in (0, view.verticalScrollBar().maximum()):
        view.verticalScrollBar().setValue(value)
        legend = view.legend.geometry()
        assert not legend.intersects(vp), (legend, vp)
        assert legend.top() > vp.bottom() and legend.bottom() < view.height()
    assert view.viewportMargins().bottom() == view.legend_margin()
