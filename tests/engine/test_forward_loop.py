"""The forward time loop (cells/run.py): a kind's in-place `loop` gives exactly the numbers of
its `step` (no warnings on extreme inputs), also with the recurrent products row by row
(cells.base.rec_matmul, for large weights and few rows); and a cancel during a forward pass
stops it within CHECK_EVERY steps (issue 17: a close during a recompute waited for the whole
forward)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz import engine
from lstmviz.engine import cells
from lstmviz.engine.cancel import Cancelled, cancel_scope
from lstmviz.engine.cells import base
from lstmviz.engine.cells.run import CHECK_EVERY
from lstmviz.engine.stack import build_stack, stack_forward

from .test_unroll import test_backward_matches_finite_differences as fd_check

LOOPED = [k for k in cells.kinds() if cells.get(k).loop is not None]
STEPPED = [k for k in cells.kinds() if cells.get(k).scan is None]  # every step in Python


def test_the_dense_kinds_have_an_in_place_loop():
    assert {"rnn", "lstm", "gru"} <= set(LOOPED)


def _by_steps(kind, params, o, xs, state0):
    """states and cache fields from T calls of kind.step (what the generic loop copies)."""
    s, states, extras = state0, [], []
    for t in range(xs.shape[0]):
        s, cache = kind.step(params, o, xs[t], s)
        states.append(tuple(np.array(v) for v in s))
        extras.append([np.array(v) for v in cache[1 + len(kind.state):]])
    return ([np.stack([st[k] for st in states]) for k in range(len(kind.state))],
            {name: np.stack([e[j] for e in extras]) for j, name in enumerate(kind.extras)})


@pytest.fixture(params=[False, True], ids=["gemm", "rows"])
def rows(request, monkeypatch):
    """True: every recurrent product of 2..ROWS_B rows goes row by row (as for H=512)."""
    if request.param:
        monkeypatch.setattr(base, "ROWS_BYTES", 0)
    return request.param


@pytest.mark.parametrize("B", [1, 2, 3, 5, 8])
def test_rec_matmul_is_the_product(B, rows):
    rng = np.random.default_rng(B)
    a, w = rng.standard_normal((B, 6)), rng.standard_normal((7, 6)).T  # w a transposed view
    got = base.rec_matmul(a, w)
    np.testing.assert_allclose(got, a @ w, rtol=1e-14, atol=1e-14)
    if rows and B <= base.ROWS_B:  # row b is exactly the B = 1 product of row b
        for b in range(B):
            assert np.array_equal(got[b], a[b] @ w)
    out = np.empty((B, 7))
    assert base.rec_matmul(a, w, out=out) is out
    assert np.array_equal(out, got)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_row_by_row_products_match_finite_differences(kind, monkeypatch):
    monkeypatch.setattr(base, "ROWS_BYTES", 0)
    fd_check(kind, "tanh", 5, 3, 3, 4, 0)


@pytest.mark.parametrize("kind_name", LOOPED)
@pytest.mark.parametrize("scale", [1.0, 1e4])  # 1e4: saturated gates, e^-x overflows
@pytest.mark.parametrize("B", [1, 3])
def test_loop_gives_exactly_the_numbers_of_step(kind_name, scale, B, rows):
    kind = cells.get(kind_name)
    T, I, H = 11, 3, 5
    model = engine.build_model(kind_name, I, H, seed=4)
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((T, B, I)) * scale
    state0 = tuple(rng.standard_normal((B, H)) for _ in kind.state)
    run = cells.run_forward(kind, model.params, xs, state0, opts=model.o)
    with np.errstate(all="ignore"):  # step alone, outside run_forward's errstate
        states, extras = _by_steps(kind, model.params, model.o, xs, state0)
    for got, want in zip(run.states, states, strict=True):
        assert np.array_equal(got, want)  # bit for bit, not merely close
    assert set(run.extras) == set(extras)
    for name, want in extras.items():
        assert np.array_equal(run.extras[name], want), name
    if scale > 1:  # the gates saturate: sigma = 0 or 1 exactly, tanh = +-1
        assert np.all(np.isfinite(run.states[0]))


@pytest.mark.parametrize("kind_name", STEPPED)
def test_a_cancel_during_a_forward_stops_it_within_a_few_steps(kind_name):
    model = engine.build_model(kind_name, 1, 8, seed=0)
    xs = np.ones((200, 1))
    calls = []

    def hook() -> bool:
        calls.append(1)
        return len(calls) > 2

    with cancel_scope(hook), pytest.raises(Cancelled):
        engine.forward(model, xs)
    assert len(calls) == 3  # stopped before step 2 * CHECK_EVERY + 1, not after all 200

    calls.clear()
    with cancel_scope(lambda: calls.append(1) or False):
        trace = engine.forward(model, xs)
    assert len(calls) == -(-200 // CHECK_EVERY)  # a checkpoint every CHECK_EVERY steps
    assert trace.h.shape == (200, 1, 8)


def test_a_cancel_during_a_stacked_forward_stops_in_the_first_layer():
    stack = build_stack("gru", 1, 8, num_layers=3, seed=0)
    calls = []
    with cancel_scope(lambda: calls.append(1) or True), pytest.raises(Cancelled):
        stack_forward(stack, np.ones((100, 1)))
    assert len(calls) == 1


@pytest.mark.parametrize("kind_name", ["rnn", "lstm", "gru"])
def test_one_gemm_input_projection_agrees_with_the_steps(kind_name, monkeypatch):
    """Above SEQ_BYTES the input projection of a whole sequence is one GEMM (a stacked
    layer at H = 512 read W_ih once per step before): the same numbers up to rounding, the
    gradients too (dx of a layer is the layer below's loss gradient)."""
    kind = cells.get(kind_name)
    T, B, H = 9, 2, 6
    model = engine.build_model(kind_name, H, H, seed=3)
    xs = np.random.default_rng(1).standard_normal((T, B, H))
    plain = cells.run_forward(kind, model.params, xs, opts=model.o)
    dh = np.ones((T, B, H))
    plain_back = cells.run_backward(plain, dh)
    monkeypatch.setattr(base, "SEQ_BYTES", 0)
    w, _ = kind.input_weights(model.params)
    assert np.allclose(base.seq_matmul(xs, w.T), xs @ w.T, rtol=1e-14, atol=1e-15)
    gemm = cells.run_forward(kind, model.params, xs, opts=model.o)
    for a, b in zip(gemm.states, plain.states, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cells.run_backward(gemm, dh).dx, plain_back.dx,
                               rtol=1e-13, atol=1e-15)
