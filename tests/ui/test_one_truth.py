"""One source of truth: the gradient panel, the inspector, the status bar and the unrolled view
print the same figure for the same step, read from the run's diagnostics (issue 11, item 3)."""

import numpy as np

from lstmviz.config import Config
from lstmviz.numfmt import format_magnitude
from lstmviz.session import BACKWARD
from lstmviz.ui.panels.gradients import GradientPanel
from lstmviz.ui.panels.inspector import InspectorPanel


def test_views_agree_on_a_huge_gradient(make_window):
    # relu, weight scale 6, T = 200: ||dL/dh_1|| is about 10^191 (used to read "inf" in the
    # inspector and 1.11e+191 in the status bar)
    window = make_window(Config(models=("rnn",), activation="relu", weight_scale=6.0,
                                seq_len=200, hidden_size=16))
    session = window.session
    run = session.runs["rnn"]
    d = run.diagnostics
    assert run.overflow_step is None  # huge, not an overflow
    assert d.log10_grad_h[0] > 150
    session.seek_to(BACKWARD, 1)
    window.adapter.select("rnn", 1)
    figure = format_magnitude(float(d.log10_grad_h[0]))
    assert "10¹⁹" in figure
    inspector = next(p for p in window.panels.values() if isinstance(p, InspectorPanel))
    inspector.sync()
    assert f"‖dL/dh<sub>t</sub>‖ = {figure}" in inspector.grad_label.text()
    assert f"‖dL/dh<sub>1</sub>‖ = {figure}" in window.status_label.text()
    gradients = next(p for p in window.panels.values() if isinstance(p, GradientPanel))
    ratio = format_magnitude(float(d.log10_grad_h[0] - d.log10_grad_h[-1]))
    assert ratio in gradients.notes.toPlainText()
    row = window.unrolled.rows["rnn"]
    np.testing.assert_array_equal(row.grad_h_log, d.log10_grad_h)
    lo, hi = window.unrolled.grad_range
    assert lo <= np.min(d.log10_grad_h) and hi >= np.max(d.log10_grad_h)


def test_brief_run_is_no_overflow(make_window):
    """relu, orthogonal init, weight scale 2.5, T = 300, H = 5, seed 1: max 5e234, all finite:
    no view says overflow, and the claim quantity `overflow` measures False."""
    from lstmviz.walkthrough import Claim, measure

    window = make_window(Config(models=("rnn",), activation="relu", init="orthogonal",
                                weight_scale=2.5, seq_len=300, hidden_size=5, seed=1))
    session = window.session
    run = session.runs["rnn"]
    assert np.nanmax(np.abs(run.trace.h)) > 1e100
    assert run.overflow_step is None and run.grads.overflow_step is None
    assert np.all(np.isfinite(run.diagnostics.log10_grad_h))
    assert np.all(np.isfinite(run.grads.h))
    for i in range(0, session.n_frames, 50):
        session.seek(i)
        assert "overflow" not in window.status_label.text()
    session.to_end()
    assert "overflow" not in window.status_label.text()
    claim = Claim(model="rnn", quantity="overflow", op="==", value=True)
    assert measure(claim, session.runs).value is False
