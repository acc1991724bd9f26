"""One layer picker (Settings dock, `SessionAdapter.layer`) for the panels that show one layer
of a stacked model: forget gate, gates, cell state, Jacobians and the cell inspector."""

import numpy as np

from lstmviz import engine
from lstmviz.config import Config
from lstmviz.engine.stack import stack_backward, stack_forward
from lstmviz.session import Session, compute_runs
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.controls import LayerPicker
from lstmviz.ui.panels.cellstate import CellStatePanel
from lstmviz.ui.panels.forget import ForgetPanel
from lstmviz.ui.panels.gates import GatesPanel
from lstmviz.ui.panels.inspector import InspectorPanel
from lstmviz.ui.panels.jacobians import JacobianPanel

T, H = 10, 4


def _shown(qtbot, held, widget):
    qtbot.addWidget(widget)
    held.append(widget)
    widget.resize(600, 400)
    widget.show()
    return widget


def _picker(qtbot, held, adapter):
    picker = LayerPicker()
    picker.bind(adapter)
    return _shown(qtbot, held, picker)


def _choose(picker, layer):
    """What a click on the picker's item for `layer` (0-based) does."""
    index = picker.findData(layer)
    assert index >= 0
    picker.setCurrentIndex(index)
    picker.activated.emit(index)


def _engine_forget(session, layer):
    """Layer `layer`'s forget gates (T, H) of batch element 0, from the engine directly."""
    run = session.runs["lstm"]
    trace = stack_forward(run.stack[0], run.task.xs)
    return trace.layers[layer].gates["forget"][:, 0, :]


def test_choosing_a_layer_changes_what_the_forget_panel_plots(qtbot, held):
    session = Session(Config(models=("lstm",), seq_len=T, hidden_size=H, num_layers=2))
    adapter = SessionAdapter(session)
    picker = _picker(qtbot, held, adapter)
    panel = _shown(qtbot, held, ForgetPanel(adapter))
    session.to_end()
    assert picker.isEnabled() and picker.count() == 2
    assert picker.currentData() == 1  # the top layer by default
    top, bottom = _engine_forget(session, 1), _engine_forget(session, 0)
    assert not np.allclose(top, bottom)  # (the test could fail)
    np.testing.assert_array_equal(panel.heatmaps["lstm"].full, top.T)
    _choose(picker, 0)
    assert adapter.layer == 0
    np.testing.assert_array_equal(panel.heatmaps["lstm"].full, bottom.T)
    np.testing.assert_array_equal(panel.heatmaps["lstm"].buffer, bottom.T)  # on screen
    np.testing.assert_allclose(panel.curves["lstm"].getData()[1], bottom.mean(axis=1))
    assert panel.heatmaps["lstm"].plot.getAxis("left").labelText == "layer 1/2 · unit"
    cols = panel.data_columns()  # named for the layer: the top keeps the plain names
    np.testing.assert_array_equal(cols["lstm layer 1 mean f_t"], bottom.mean(axis=1))
    assert not any(c.startswith("lstm mean") for c in cols)
    _choose(picker, 1)  # layer 2: the top one again
    assert adapter.layer is None
    np.testing.assert_array_equal(panel.heatmaps["lstm"].full, top.T)
    assert panel.heatmaps["lstm"].plot.getAxis("left").labelText == "layer 2/2 · unit"
    assert "lstm mean f_t" in panel.data_columns()


def test_every_one_layer_view_follows_the_picker(qtbot, held):
    session = Session(Config(models=("rnn", "lstm"), seq_len=T, hidden_size=H, num_layers=3))
    adapter = SessionAdapter(session)
    picker = _picker(qtbot, held, adapter)
    gates = _shown(qtbot, held, GatesPanel(adapter))
    cells = _shown(qtbot, held, CellStatePanel(adapter))
    jac = _shown(qtbot, held, JacobianPanel(adapter))
    insp = _shown(qtbot, held, InspectorPanel(adapter))
    session.to_end()
    adapter.select("lstm", 1)
    _choose(picker, 1)  # the middle layer
    run = session.runs["lstm"]
    trace = stack_forward(run.stack[0], run.task.xs)
    grads = stack_backward(run.stack[0], trace, run.dh_loss)
    mid, g_mid, m_mid = trace.layers[1], grads.layers[1], run.stack[0].layers[1]
    np.testing.assert_array_equal(gates.heatmaps["lstm", "input"].full,
                                  mid.gates["input"][:, 0, :].T)
    cols = cells.data_columns()
    np.testing.assert_array_equal(cols["lstm layer 2 c_t[unit 0]"], mid.c[:, 0, 0])
    np.testing.assert_array_equal(cols["rnn layer 2 h_t[unit 1]"],
                                  session.runs["rnn"].stack[1].layers[1].h[:, 0, 1])
    want = engine.compute_diagnostics(m_mid, mid, g_mid)
    cols = jac.data_columns()
    np.testing.assert_allclose(cols["lstm layer 2 log10 ||dh_T/dh_t||_2"],
                               want.log10_jac_prod, rtol=1e-12)
    np.testing.assert_allclose(cols["lstm layer 2 log10 ||dh_t/dh_t-1||_2"],
                               want.log10_jac_step, rtol=1e-12)
    assert "lstm ||dh_T/dh_t||_2" not in cols
    assert "layer 2/3" in insp.header.text()
    np.testing.assert_array_equal(insp._values["dL/dh"], g_mid.h[0, 0])
    _choose(picker, 2)  # the top: every panel back to the plain names
    assert "lstm ||dh_T/dh_t||_2" in jac.data_columns()
    assert "layer 3/3" in insp.header.text()


def test_layer_jacobians_complete_in_the_background_job(qtbot):
    config = Config(models=("gru",), seq_len=T, hidden_size=H, num_layers=2)
    runs = compute_runs(config, jacobians=False)
    run = runs["gru"]
    assert not run.jacobians_ready and not run.layer_view(0).diagnostics.jacobians_ready
    session = Session(config, runs=runs)
    assert not session.jacobians_ready
    session.complete_jacobians()  # what ui.worker runs off the GUI thread
    done = session.runs["gru"].layer_view(0)
    assert done.diagnostics.jacobians_ready and np.isfinite(done.diagnostics.log10_jac_prod).all()
    m, tr, g = (run.stack[i].layers[0] for i in range(3))
    np.testing.assert_allclose(done.diagnostics.log10_jac_prod,
                               engine.compute_diagnostics(m, tr, g).log10_jac_prod, rtol=1e-12)


def test_one_layer_hides_the_picker(qtbot, held):
    session = Session(Config(models=("lstm",), seq_len=T, hidden_size=H))
    adapter = SessionAdapter(session)
    picker = _picker(qtbot, held, adapter)
    panel = _shown(qtbot, held, ForgetPanel(adapter))
    assert not picker.isEnabled() and picker.count() == 1
    assert panel.heatmaps["lstm"].plot.getAxis("left").labelText == "unit"
    # fewer layers after a recompute: back to the top, the picker follows
    session.set_config(session.config.replace(num_layers=3))
    assert picker.isEnabled() and picker.count() == 3
    _choose(picker, 1)
    session.set_config(session.config.replace(num_layers=2))
    assert adapter.layer is None and picker.currentData() == 1
    np.testing.assert_array_equal(panel.heatmaps["lstm"].full,
                                  session.runs["lstm"].trace.gates["forget"][:, 0, :].T)


def test_a_lower_layers_columns_are_documented():
    from lstmviz.columns import describe

    col = describe("lstm layer 1 mean f_t", "forget.csv")
    assert col is not None and col.meaning.startswith("layer 1 of a stacked model")
    assert describe("gru layer 2 log10 ||dh_T/dh_t||_2", "jacobians.csv") is not None
    assert describe("lstm layer 2 nonsense", "forget.csv") is None


def test_the_windows_settings_pick_the_layer_for_every_panel(make_window, monkeypatch):
    """In the window: the Settings dock's one picker; a layer change reaches the panels
    through the stager (in stages for large runs, like new runs)."""
    from lstmviz.ui import staging

    window = make_window(Config(models=("lstm",), seq_len=T, hidden_size=H, num_layers=2))
    picker = window.controls.layer_picker
    assert picker.isVisibleTo(window.controls) and picker.count() == 2
    forget = window.panels["forget"]
    forget.ensure_built()
    monkeypatch.setattr(staging, "STAGE_ELEMENTS", 0)  # stage even these small runs
    _choose(picker, 0)
    assert window.stager.pending  # queued, one panel per event-loop turn
    window.stager.flush()
    np.testing.assert_array_equal(forget.heatmaps["lstm"].full,
                                  _engine_forget(window.session, 0).T)
    assert window.adapter.layer == 0
    window.request_config(window.session.config.replace(num_layers=1))
    window.recomputer.wait(jacobians=False)
    window.stager.flush()
    assert not picker.isVisibleTo(window.controls) and window.adapter.layer is None
