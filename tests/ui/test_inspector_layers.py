"""The inspector shows the viewed layer of a stacked model (the shared picker,
`SessionAdapter.layer`; the top layer by default)."""

import numpy as np

from lstmviz.config import Config
from lstmviz.numfmt import format_magnitude
from lstmviz.session import BACKWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.inspector import InspectorPanel


def test_inspector_layer_box(qtbot, held):
    session = Session(Config(models=("lstm",), seq_len=8, hidden_size=5, num_layers=3))
    adapter = SessionAdapter(session)
    panel = InspectorPanel(adapter)
    qtbot.addWidget(panel)
    held.append(panel)
    panel.show()
    session.seek_to(BACKWARD, 4)
    assert "layer 3/3" in panel.header.text()  # the top layer by default
    stack = session.runs["lstm"].stack
    f_top = stack[1].layers[2].gates["input"][3, 0]
    got = np.asarray(panel.gate_plots["lstm"][0].bars[0].opts["height"])
    np.testing.assert_allclose(got, np.clip(f_top, *panel.gate_plots["lstm"][0].range))
    adapter.set_layer(0)
    assert "layer 1/3" in panel.header.text()
    f_low = stack[1].layers[0].gates["input"][3, 0]
    got = np.asarray(panel.gate_plots["lstm"][0].bars[0].opts["height"])
    np.testing.assert_allclose(got, np.clip(f_low, *panel.gate_plots["lstm"][0].range))
    # the gradient line is the bottom layer's exact norm
    want = format_magnitude(float(stack[2].layers[0].log10_h[3]))
    assert want in panel.grad_label.text()


def test_no_layer_for_one_layer(qtbot, held):
    session = Session(Config(models=("rnn",), seq_len=5, hidden_size=3))
    panel = InspectorPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    held.append(panel)
    panel.show()
    session.seek(3)
    assert "layer" not in panel.header.text()
