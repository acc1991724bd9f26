"""Forward passes first (issue 16, the first picture at large settings): a run of its
forward pass alone, completed by its backward pass to the same numbers."""

import warnings

import numpy as np
import pytest

from lstmviz import engine
from lstmviz.config import Config
from lstmviz.session import Session, compute_runs

CONFIG = Config(models=("rnn", "lstm", "gru"), seq_len=60, hidden_size=16)  # two threads


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_a_forward_only_run_holds_no_gradient_and_says_so():
    full = compute_runs(CONFIG, jacobians=False)
    fwd = compute_runs(CONFIG, jacobians=False, backward=False)
    for kind, run in fwd.items():
        d, f = run.diagnostics, full[kind].diagnostics
        assert not run.gradients_ready and run.grads is None
        assert not d.gradients_ready and not d.jacobians_ready and f.gradients_ready
        for name in ("log10_grad_h", "grad_h_norm", "whh_contrib", "log10_whh"):
            assert np.isnan(getattr(d, name)).all(), name  # not computed: NaN, never 0
        if d.log10_grad_c is not None:
            assert np.isnan(d.log10_grad_c).all()
        # what the forward pass gives is there already, the same numbers
        assert run.trace.h.tobytes() == full[kind].trace.h.tobytes()
        assert run.loss == full[kind].loss and run.loss_log10 == full[kind].loss_log10
        assert _same(d.log10_h_norm, f.log10_h_norm) and _same(d.sigma_max, f.sigma_max)
        assert _same(d.cell_direct if d.cell_direct is not None else 0,
                     f.cell_direct if f.cell_direct is not None else 0)
    assert not Session(CONFIG, runs=fwd).gradients_ready
    assert Session(CONFIG, runs=full).gradients_ready


def test_the_backward_pass_completes_it_to_the_numbers_of_one_go():
    full = compute_runs(CONFIG, jacobians=False)
    fwd = compute_runs(CONFIG, jacobians=False, backward=False)
    for kind, run in fwd.items():
        done = run.with_backward()
        assert done.gradients_ready and done.trace is run.trace
        assert done.grads.h.tobytes() == full[kind].grads.h.tobytes()
        for name in ("log10_grad_h", "log10_whh", "whh_contrib", "grad_h_norm"):
            assert _same(getattr(done.diagnostics, name),
                         getattr(full[kind].diagnostics, name)), name
        # the exact Jacobian norms too (completed() runs the backward pass first)
        a, b = run.completed().diagnostics, full[kind].completed().diagnostics
        assert a.gradients_ready and _same(a.jac_step_norm, b.jac_step_norm)
        assert _same(a.log10_jac_prod, b.log10_jac_prod)


def test_on_forward_hears_every_forward_pass_before_the_runs_return():
    heard = []
    progress = []
    runs = compute_runs(CONFIG, jacobians=False, on_forward=heard.append,
                        progress=progress.append)
    assert len(heard) == 1 and list(heard[0]) == list(CONFIG.models)
    assert not any(r.gradients_ready for r in heard[0].values())
    assert all(r.gradients_ready for r in runs.values())
    for kind, run in runs.items():  # the same forward traces, completed
        assert run.trace is heard[0][kind].trace
    plain = compute_runs(CONFIG, jacobians=False)
    for kind in runs:
        assert runs[kind].grads.h.tobytes() == plain[kind].grads.h.tobytes()
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)


def test_a_stack_shows_its_forward_passes_first_and_completes_to_the_same_numbers():
    config = CONFIG.replace(models=("lstm", "rnn"), num_layers=3)
    full = compute_runs(config, jacobians=False)
    fwd = compute_runs(config, jacobians=False, backward=False)
    for kind, run in fwd.items():
        assert run.num_layers == 3 and not run.gradients_ready and run.stack[2] is None
        # every layer's forward pass is there, no gradient (NaN, never 0) in any layer
        assert np.isnan(run.log10_h_layers).all() and run.log10_h_layers.shape == (3, 60)
        assert np.isnan(run.log10_x_layers).all()
        for layer in range(3):
            view = run.layer_view(layer)
            assert view.grads is None and not view.gradients_ready
            assert np.isnan(view.diagnostics.log10_grad_h).all()
            assert view.trace.h.tobytes() == full[kind].layer_view(layer).trace.h.tobytes()
        done = run.with_backward()
        assert done.stack[1] is run.stack[1] and done.gradients_ready
        assert _same(done.log10_h_layers, full[kind].log10_h_layers)
        assert _same(done.log10_x_layers, full[kind].log10_x_layers)
        for layer in range(3):
            a, b = done.layer_view(layer), full[kind].layer_view(layer)
            assert a.grads.h.tobytes() == b.grads.h.tobytes()
            assert _same(a.diagnostics.log10_grad_h, b.diagnostics.log10_grad_h)
        a, b = done.completed(), full[kind].completed()
        for layer in range(3):
            assert _same(a.layer_view(layer).diagnostics.jac_step_norm,
                         b.layer_view(layer).diagnostics.jac_step_norm)
    heard = []
    runs = compute_runs(config, jacobians=False, on_forward=heard.append)
    assert len(heard) == 1 and not any(r.gradients_ready for r in heard[0].values())
    assert all(r.gradients_ready for r in runs.values())


def test_forward_diagnostics_of_an_overflowing_run_warn_nothing():
    config = Config(models=("rnn", "lstm"), seq_len=400, hidden_size=8, weight_scale=10.0,
                    activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs = compute_runs(config, jacobians=False, backward=False)
        for run in runs.values():
            assert np.isnan(run.diagnostics.log10_grad_h).all()
            assert run.overflow_step == run.trace.overflow_step  # only what the forward knows
        done = runs["rnn"].with_backward()
    assert done.overflow_step is not None  # the backward pass overflows: said once known
    assert done.overflow_step == compute_runs(config, jacobians=False)["rnn"].overflow_step
    rnn, lstm = runs["rnn"], runs["lstm"]
    with pytest.raises(engine.EngineError, match="trace"):
        engine.forward_diagnostics(rnn.model, lstm.trace)


def test_complete_gradients_installs_only_the_same_forward_passes():
    fwd = compute_runs(CONFIG, jacobians=False, backward=False)
    session = Session(CONFIG, runs=fwd)
    heard = []
    session.on_runs.append(lambda: heard.append("runs"))
    session.on_gradients.append(lambda: heard.append("gradients"))
    other = compute_runs(CONFIG, jacobians=False)  # other traces: refused
    assert not session.complete_gradients(CONFIG, other)
    full = {k: r.with_backward() for k, r in fwd.items()}
    assert not session.complete_gradients(CONFIG.replace(seed=3), full)
    assert session.runs is fwd and heard == []
    assert session.complete_gradients(CONFIG, full)
    assert session.runs is full and session.gradients_ready and heard == ["gradients"]
    assert not session.complete_gradients(CONFIG, full)  # nothing forward-only shown now


def test_claims_on_the_gradients_wait_for_the_backward_pass():
    """A lecture step's numbers from the backward pass are pending (never failed, never a
    crash) while its forward passes are shown alone; the forward ones are measured."""
    from lstmviz.walkthrough import Claim, check_claim, pending, pending_sentence
    from lstmviz.walkthrough.vocabulary import GRADIENT_QUANTITIES

    config = CONFIG.replace(models=("lstm",), num_layers=2)
    fwd = compute_runs(config, jacobians=False, backward=False)
    full = {k: r.with_backward() for k, r in fwd.items()}
    for quantity in GRADIENT_QUANTITIES:
        claim = Claim("lstm", quantity, "<", 1e300)
        assert pending(claim, fwd), quantity
        assert not pending(claim, full) and check_claim(claim, full)[1].kind  # measurable
        assert "backward pass is computing" in pending_sentence(claim)
    for quantity in ("sigma_max", "loss", "mean_forget", "state_max"):
        claim = Claim("lstm", quantity, ">", 0.0)
        assert not pending(claim, fwd) and check_claim(claim, fwd)[0], quantity
    jac = Claim("lstm", "jac_prod", "<", 1.0)
    assert pending(jac, fwd) and pending(jac, full)  # the Jacobian norms follow stage one
    assert "Jacobian norms are computing" in pending_sentence(jac)
