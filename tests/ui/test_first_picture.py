"""A long background recompute shows its forward passes first, then the runs with their
backward passes (issue 16: the first picture at the largest settings); a cancel or an
error puts back what was shown."""

import threading
import time

import numpy as np
import pytest

from lstmviz import session as session_module
from lstmviz.config import Config
from lstmviz.engine.cancel import checkpoint
from lstmviz.session import BACKWARD, compute_runs
from lstmviz.ui import worker
from lstmviz.ui.export.dialog import check_ready

SMALL = Config(models=("rnn",), seq_len=5, hidden_size=3)
BIG = Config(models=("rnn", "lstm", "gru"), seq_len=300, hidden_size=48)


@pytest.fixture
def previews(monkeypatch):
    monkeypatch.setattr(worker, "PREVIEW_SECONDS", 0.0)  # every background recompute


def _hold_backward(monkeypatch, gate: threading.Event, fail: bool = False):
    """Backward passes wait for `gate` (at checkpoints: a cancel stops them)."""
    original = session_module.Run.with_backward

    def held(self, progress=None):
        while not gate.is_set():
            checkpoint()
            time.sleep(0.005)
        if fail:
            raise ValueError("backward failed on purpose")
        return original(self, progress)

    monkeypatch.setattr(session_module.Run, "with_backward", held)


def test_forward_passes_first_then_the_gradients(make_window, qtbot, previews, monkeypatch):
    window = make_window(SMALL)
    window.session.seek_to(BACKWARD, 2)
    gate = threading.Event()
    _hold_backward(monkeypatch, gate)
    events, runs_changed = [], []
    window.adapter.runsChanged.connect(lambda: runs_changed.append(1))
    window.recomputer.previewed.connect(lambda: events.append("previewed"))
    window.recomputer.applied.connect(lambda: events.append("applied"))
    window.request_config(BIG)
    qtbot.waitUntil(lambda: events == ["previewed"], timeout=30000)
    s = window.session
    assert s.config == BIG and not s.gradients_ready and window.recomputer.busy
    assert "computing the backward pass" in window.docks["gradients"].windowTitle()
    assert "computing the backward pass" in window.docks["jacobians"].windowTitle()
    assert "computing…" in window.status_label.text()
    assert all(not row.gradients_ready for row in window.unrolled.rows.values())
    with pytest.raises(ValueError, match="backward pass .* still computing"):
        check_ready(window)  # an export now would hold no gradients
    inspector = window.panels["inspector"]
    inspector.ensure_built()
    inspector.sync()
    assert "computing the backward pass" in inspector.grad_label.text()
    n_runs = len(runs_changed)
    gate.set()
    qtbot.waitUntil(lambda: events == ["previewed", "applied"], timeout=30000)
    assert s.gradients_ready and len(runs_changed) == n_runs  # the forward views stayed
    assert window.docks["gradients"].windowTitle() == window.panels["gradients"].title
    assert all(row.gradients_ready for row in window.unrolled.rows.values())
    check_ready(window)
    plain = compute_runs(BIG, jacobians=False)
    for kind, run in s.runs.items():
        assert np.array_equal(run.diagnostics.log10_grad_h, plain[kind].diagnostics.log10_grad_h)
    window.settle()  # and the exact Jacobian norms follow
    assert s.jacobians_ready
    assert "computing" not in window.docks["jacobians"].windowTitle()


def test_a_stack_shows_every_layer_forward_first(make_window, qtbot, previews, monkeypatch):
    """A stacked recompute previews too: every layer's row in the unrolled grid without
    arrows, a lower layer's views without gradients; then the gradients of every layer."""
    window = make_window(SMALL)
    window.session.seek_to(BACKWARD, 2)
    gate = threading.Event()
    _hold_backward(monkeypatch, gate)
    events = []
    window.recomputer.previewed.connect(lambda: events.append("previewed"))
    window.recomputer.applied.connect(lambda: events.append("applied"))
    stacked = BIG.replace(num_layers=3, seq_len=120, hidden_size=24)
    window.request_config(stacked)
    qtbot.waitUntil(lambda: events == ["previewed"], timeout=30000)
    s = window.session
    assert s.config == stacked and not s.gradients_ready
    rows = [*window.unrolled.rows.values(), *window.unrolled.layer_rows]
    assert len(rows) == 3 * 3 and not any(row.gradients_ready for row in rows)
    window.adapter.set_layer(0)  # the bottom layer's views, forward pass alone
    qtbot.wait(50)
    for kind in stacked.models:
        assert np.isnan(s.runs[kind].log10_h_layers).all()
    gate.set()
    qtbot.waitUntil(lambda: events == ["previewed", "applied"], timeout=30000)
    rows = [*window.unrolled.rows.values(), *window.unrolled.layer_rows]
    assert s.gradients_ready and all(row.gradients_ready for row in rows)
    plain = compute_runs(stacked, jacobians=False)
    for kind, run in s.runs.items():
        assert np.array_equal(run.log10_h_layers, plain[kind].log10_h_layers)
    window.settle()
    assert s.jacobians_ready


def test_a_lecture_step_waits_for_the_backward_pass_to_check_its_numbers(
        make_window, qtbot, previews, monkeypatch, tmp_path):
    """A step whose run previews: its claims on gradients say they are measuring (no red
    warning, no crash on the missing gradients), the forward ones are checked at once; all
    are checked when the backward pass arrives."""
    window = make_window(SMALL)
    path = tmp_path / "big.toml"
    path.write_text("""
title = "Big"
description = "A long run."
[[step]]
title = "Long"
narration = "The gradient ratio is {rnn.grad_ratio}."
setup = { models = ["rnn", "lstm"], seq_len = 300, hidden_size = 48, seed = 3 }
claims = [
    { model = "rnn", quantity = "grad_ratio", op = "<", value = 1e-3 },
    { model = "lstm", quantity = "param_grad_norm", op = ">", value = 0.0 },
    { model = "rnn", quantity = "sigma_max", op = ">", value = 0.0 },
]
""", encoding="utf-8")
    gate = threading.Event()
    _hold_backward(monkeypatch, gate)
    events = []
    window.recomputer.previewed.connect(lambda: events.append("previewed"))
    window.recomputer.applied.connect(lambda: events.append("applied"))
    panel = window.tools["walkthrough"]
    assert panel.open(path)
    qtbot.waitUntil(lambda: "previewed" in events, timeout=30000)
    qtbot.wait(50)
    text = panel.current_markdown()
    assert "⚠" not in text and "✗" not in text
    assert text.count("backward pass is computing") == 2 and "✓" in text  # sigma_max
    assert "(measuring)" in text  # the placeholder
    gate.set()
    qtbot.waitUntil(lambda: "applied" in events, timeout=30000)
    qtbot.waitUntil(lambda: panel.current_markdown().count("✓") == 3, timeout=10000)
    assert "measuring" not in panel.current_markdown()


@pytest.mark.parametrize("how", ["cancel", "error"])
def test_a_stopped_recompute_puts_back_the_runs_shown(make_window, qtbot, previews,
                                                      monkeypatch, how):
    window = make_window(SMALL)
    window.settle()
    before = window.session.runs
    gate = threading.Event()
    _hold_backward(monkeypatch, gate, fail=how == "error")
    seen, failed = [], []
    window.recomputer.previewed.connect(lambda: seen.append(1))
    window.recomputer.failed.connect(failed.append)
    window.request_config(BIG)
    qtbot.waitUntil(lambda: seen == [1], timeout=30000)
    assert window.session.config == BIG and not window.session.gradients_ready
    if how == "cancel":
        window.cancel_compute()
    else:
        gate.set()
        qtbot.waitUntil(lambda: bool(failed), timeout=30000)
        assert "backward failed on purpose" in failed[0]
    gate.set()
    s = window.session
    assert s.config == SMALL and s.runs is before and s.gradients_ready
    assert not window.recomputer.busy
    assert window.controls.config == SMALL  # the controls follow the runs shown
    assert window.docks["gradients"].windowTitle() == window.panels["gradients"].title
    assert "computing" not in window.docks["jacobians"].windowTitle()
