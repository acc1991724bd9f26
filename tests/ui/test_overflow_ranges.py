"""Values near float64's limit (a ReLU RNN exploding until overflow) must not crash a
panel's axis range: pyqtgraph raised "Cannot set range [-inf, inf]" building the window."""

import math

import numpy as np

from lstmviz.config import Config
from lstmviz.ui.panels.inspector import finite_range


def test_finite_range_of_values_near_the_float64_limit_is_finite():
    lo, hi = finite_range(np.array([1.7e308, -np.inf, np.nan]))
    assert math.isfinite(lo) and math.isfinite(hi) and hi >= 1e300
    assert finite_range(np.array([np.nan])) == (-1e-12, 1e-12)


def test_a_window_on_an_exploding_relu_rnn_builds_and_steps(make_window, qtbot):
    config = Config(models=("rnn",), activation="relu", weight_scale=10.0, seq_len=1000,
                    hidden_size=16)  # pre-activations reach 1.71e308, still finite
    window = make_window(config)
    run = window.session.runs["rnn"]
    assert run.overflow_step is not None  # the run really reaches the limit
    for frame in range(0, window.session.n_frames, 97):
        window.session.seek(frame)
        qtbot.wait(1)


def test_a_range_near_the_limit_keeps_the_view_finite(qtbot):
    # ±1.6e308 is finite, but its width is not: pyqtgraph's view became [nan, nan] and
    # every repaint raised "Not setting range to [nan, nan]"
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.show()
    plot.getViewBox().setRange(yRange=finite_range(np.array([1.55e308])), padding=0.02)
    qtbot.wait(1)
    lo, hi = plot.getViewBox().viewRange()[1]
    assert math.isfinite(lo) and math.isfinite(hi)
