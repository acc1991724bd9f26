"""GradientPanel with stacked models: a curve per layer and the layer x t heatmap; one layer
looks as before (no heatmap, one curve per model and quantity)."""

import numpy as np

from lstmviz.config import Config
from lstmviz.session import Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.gradients import GradientPanel

T = 12


def _panel(qtbot, held, **kw):
    session = Session(Config(models=("rnn", "lstm"), seq_len=T, hidden_size=4, **kw))
    p = GradientPanel(SessionAdapter(session))
    qtbot.addWidget(p)
    held.append(p)
    p.resize(700, 500)
    p.show()
    qtbot.waitExposed(p)
    return session, p


def _curves(panel, kind):
    return [np.asarray(s.item.getData()[1]) for s in panel.series[kind]]


def test_three_layers_give_three_h_curves_and_the_heatmap(qtbot, held):
    session, panel = _panel(qtbot, held, num_layers=3)
    session.to_end()  # backward pass done: everything revealed
    for kind, run in session.runs.items():
        logs = run.log10_h_layers
        ys = _curves(panel, kind)
        # top layer (as today), the LSTM's c curve, and the two layers below
        n_c = 1 if run.diagnostics.grad_c_norm is not None else 0
        assert len(ys) == 1 + 2 + n_c
        np.testing.assert_allclose(ys[0], logs[2])
        np.testing.assert_allclose(ys[1], logs[0])
        np.testing.assert_allclose(ys[2], logs[1])
    assert panel.depth.widget.isVisible()
    assert panel.depth.rows == [("rnn", 0), ("rnn", 1), ("rnn", 2), ("lstm", 0), ("lstm", 1),
                                ("lstm", 2)]
    img = panel.depth.row_values()
    want = np.concatenate([session.runs[k].log10_h_layers for k in ("rnn", "lstm")])
    np.testing.assert_allclose(img, want)
    cols = panel.data_columns()
    assert {f"rnn layer {l} ||dL/dh_t||" for l in (1, 2, 3)} <= set(cols)
    # the heatmap is revealed with the backward pass
    session.seek_to("backward", T - 3)
    img = panel.depth.row_values()
    assert np.isnan(img[:, : T - 4]).all() and np.isfinite(img[:, T - 4:]).all()


def test_one_layer_panel_is_unchanged(qtbot, held):
    session, panel = _panel(qtbot, held)
    session.to_end()
    assert not panel.depth.widget.isVisible()
    assert len(panel.series["rnn"]) == 1 and len(panel.series["lstm"]) == 2
    assert not any("layer" in c for c in panel.data_columns())


def test_the_layer_heatmap_sits_beside_the_curves_with_its_colour_bar(qtbot, held):
    from lstmviz.ui.panels.gradients import CURVES_MIN, DEPTH_MIN

    session, panel = _panel(qtbot, held, num_layers=2)
    session.to_end()
    for width in (400, 700, 1100):  # a 1280 x 720 window's dock, wider ones
        panel.resize(width, 400)
        qtbot.wait(5)
        curves, depth = panel.plot_widget.geometry(), panel.depth.widget.geometry()
        assert depth.left() >= curves.right()  # to the right, not under
        assert depth.top() < curves.bottom() and curves.top() < depth.bottom()
        assert depth.right() <= panel.width()
        assert DEPTH_MIN <= depth.width() <= max(DEPTH_MIN, 0.4 * width) + 1
        assert curves.width() >= min(CURVES_MIN, width - DEPTH_MIN) - 8
    bar = panel.depth.colorbar
    assert bar.getAxis("bottom").labelText == "‖dL/dh⁽ˡ⁾_t‖"
    lo, hi = panel.depth.levels
    assert (lo, hi) == panel._auto_range  # the curves' log scale
    np.testing.assert_allclose(bar.levels(), (lo, hi))
    ticks = bar.getAxis("bottom")._tickLevels[0]
    assert len(ticks) >= 2 and all(lo < v < hi for v, _s in ticks)
    assert all(s.startswith("10") for _v, s in ticks)
    assert panel.plot_items() == [panel.plot, panel.depth.plot]  # (walkthrough step regions)
