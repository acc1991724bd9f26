"""forward/backward against central finite differences and against a step-by-step loop."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import KINDS, EngineError, backward, build_model, cells, forward

from .helpers import numeric_grad, rel_error

CASES = [
    # kind, activation, T, B, I, H
    ("rnn", "tanh", 5, 2, 3, 4),
    ("rnn", "sigmoid", 4, 3, 2, 3),
    ("rnn", "relu", 6, 2, 3, 5),
    ("rnn", "tanh", 1, 1, 1, 1),
    ("lstm", "tanh", 5, 2, 3, 4),
    ("lstm", "tanh", 1, 1, 2, 1),
    ("gru", "tanh", 5, 2, 3, 4),
    ("gru", "tanh", 1, 3, 1, 1),
    ("lstm", "tanh", 3, 1, 1, 3),
    ("gru", "tanh", 7, 1, 2, 2),
    ("indrnn", "tanh", 5, 2, 3, 4),
    ("mingru", "tanh", 5, 2, 3, 4),
    ("minlstm", "tanh", 4, 3, 2, 3),
    ("lru", "tanh", 5, 2, 3, 4),
    ("slstm", "tanh", 5, 2, 3, 4),
    ("slstm", "tanh", 1, 1, 1, 1),
]


def _setup(kind, act, T, B, I, H, seed):
    """Model, inputs and random linear loss weights; relu cases avoid the kink at 0."""
    for s in range(seed, seed + 200):
        rng = np.random.default_rng(s)
        takes_act = any(o.name == "activation" for o in cells.get(kind).options)
        model = build_model(kind, I, H, seed=s, activation=act if takes_act else None)
        xs = rng.standard_normal((T, B, I))
        # a non-trivial initial state of every component: the state after a warm-up run
        state0 = forward(model, rng.standard_normal((3, B, I))).state(3)
        tr = forward(model, xs, state0)
        if act != "relu" or "pre" not in tr.gates or np.abs(tr.gates["pre"]).min() > 1e-3:
            wh = rng.standard_normal((T, B, H))
            # a loss on c only for the LSTM: the sLSTM's "c" is the stabilised c exp(-m), not a
            # smooth function of the parameters (m is a max), so only h is differentiable
            wc = rng.standard_normal((T, B, H)) if model.cell.cell_path is not None else None
            return model, xs, state0, tr, wh, wc
    raise AssertionError("no kink-free seed found")


def _loss(model, xs, state0, wh, wc):
    tr = forward(model, xs, state0)
    val = float(np.sum(wh * tr.h))
    if wc is not None:
        val += float(np.sum(wc * tr.c))
    return val


@pytest.mark.parametrize(("kind", "act", "T", "B", "I", "H"), CASES)
@pytest.mark.parametrize("seed", [0, 11])
def test_backward_matches_finite_differences(kind, act, T, B, I, H, seed):
    model, xs, state0, tr, wh, wc = _setup(kind, act, T, B, I, H, seed)
    g = backward(model, tr, wh, wc)
    for name, p in model.params.items():

        def f(v, name=name):
            params = dict(model.params)
            params[name] = v
            return _loss(model.with_params(params), xs, state0, wh, wc)

        num = numeric_grad(f, p).reshape(p.shape)
        assert rel_error(g.params[name], num) < 1e-6, name
    num_x = numeric_grad(lambda v: _loss(model, v, state0, wh, wc), xs).reshape(xs.shape)
    assert rel_error(g.x, num_x) < 1e-6
    h0 = np.real(state0[0])  # the LRU: perturb Re s_0 (grads.h0 is Re ds_0)
    im0 = state0[0] - h0

    def f_h0(v):
        return _loss(model, xs, (v + im0, *state0[1:]), wh, wc)

    num_h0 = numeric_grad(f_h0, np.array(h0))
    assert rel_error(g.h0, num_h0.reshape(B, H)) < 1e-6
    if model.has_cell:
        def f_c0(v):
            return _loss(model, xs, (state0[0], v, *state0[2:]), wh, wc)

        num_c0 = numeric_grad(f_c0, state0[1])
        assert rel_error(g.c0, num_c0.reshape(B, H)) < 1e-6
    else:
        assert g.c0 is None
        assert g.c is None


@pytest.mark.parametrize("kind", KINDS)
def test_grads_h_is_total_gradient_wrt_h_t(kind):
    """grads.h[t] = dL/dh_t including later steps: perturb h_t via the state passed to step t+1."""
    model, xs, state0, tr, wh, wc = _setup(kind, "tanh", 4, 2, 2, 3, 3)
    g = backward(model, tr, wh, wc)
    t = 1  # restart the run from the state after step t+1 (0-based index t)

    def f(v):
        st = list(tr.state(t + 1))  # every state component as after step t+1; h replaced
        st[0] = v + 1j * st[0].imag if np.iscomplexobj(st[0]) else v  # the LRU's h = Re s
        rest = forward(model, xs[t + 1 :], tuple(st))
        val = float(np.sum(wh[t] * v) + np.sum(wh[t + 1 :] * rest.h))
        if wc is not None:
            val += float(np.sum(wc[t + 1 :] * rest.c))
        return val

    num = numeric_grad(f, tr.h[t]).reshape(tr.h[t].shape)
    assert rel_error(g.h[t], num) < 1e-6


def test_grads_c_is_total_gradient_wrt_c_t():
    model, xs, state0, tr, wh, wc = _setup("lstm", "tanh", 4, 2, 2, 3, 5)
    g = backward(model, tr, wh, wc)
    t = 1

    def f(v):
        # c_t feeds h_t = o_t * tanh(c_t) and the rest of the run
        ht = tr.gates["output"][t] * np.tanh(v)
        rest = forward(model, xs[t + 1 :], (ht, v))
        return float(
            np.sum(wh[t] * ht)
            + np.sum(wc[t] * v)
            + np.sum(wh[t + 1 :] * rest.h)
            + np.sum(wc[t + 1 :] * rest.c)
        )

    num = numeric_grad(f, tr.c[t]).reshape(tr.c[t].shape)
    assert rel_error(g.c[t], num) < 1e-6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("B", [1, 3])
def test_step_loop_equals_forward_backward(kind, B):
    rng = np.random.default_rng(7)
    T, I, H = 9, 3, 5
    model = build_model(kind, I, H, seed=2)
    xs = rng.standard_normal((T, B, I))
    tr = forward(model, xs)
    dh = rng.standard_normal((T, B, H))
    g = backward(model, tr, dh)

    state = model.zero_state(B)
    caches, hs, cs = [], [], []
    for t in range(T):
        state, cache = model.step(xs[t], state)
        caches.append(cache)
        hs.append(model.cell.h_of(state))
        if model.has_cell:
            cs.append(state[1])
    np.testing.assert_allclose(np.stack(hs), tr.h, rtol=1e-13, atol=1e-15)
    if model.has_cell:
        np.testing.assert_allclose(np.stack(cs), tr.c, rtol=1e-13, atol=1e-15)
    for name, field in model.cell.gate_fields().items():
        np.testing.assert_allclose(
            np.stack([getattr(c, field) for c in caches]), tr.gates[name], rtol=1e-13, atol=1e-15
        )

    dstate = tuple(np.zeros_like(s) for s in state)
    sums = {k: np.zeros_like(v) for k, v in model.params.items()}
    dxs, dhs = [None] * T, [None] * T
    for t in range(T - 1, -1, -1):
        dstate = (dstate[0] + dh[t], *dstate[1:])
        dhs[t] = np.real(dstate[0])  # the LRU's grads.h is Re ds
        dstate, dx, dp = model.step_back(dstate, caches[t])
        dxs[t] = dx
        for k in sums:
            sums[k] += dp[k]
    np.testing.assert_allclose(np.stack(dhs), g.h, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.stack(dxs), g.x, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.real(dstate[0]), g.h0, rtol=1e-13, atol=1e-15)
    for k in sums:
        np.testing.assert_allclose(sums[k], g.params[k], rtol=1e-12, atol=1e-14)


def test_two_dimensional_xs_means_batch_of_one():
    model = build_model("lstm", 2, 3)
    xs = np.arange(10.0).reshape(5, 2) / 10
    tr = forward(model, xs)
    assert tr.h.shape == (5, 1, 3)
    assert tr.c.shape == (5, 1, 3)
    g = backward(model, tr, np.ones((5, 3)))
    assert g.h.shape == (5, 1, 3)
    assert g.x.shape == (5, 1, 2)
    np.testing.assert_array_equal(forward(model, xs[:, None, :]).h, tr.h)


def test_integer_inputs_are_cast():
    model = build_model("rnn", 2, 3)
    tr = forward(model, np.ones((4, 2), dtype=np.int32))
    assert tr.xs.dtype == np.float64


def test_trace_and_grads_are_read_only():
    model = build_model("gru", 2, 3)
    tr = forward(model, np.ones((4, 2)))
    g = backward(model, tr, np.ones((4, 3)))
    for a in (tr.xs, tr.h, tr.h0, *tr.gates.values(), g.h, g.x, *g.params.values()):
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0
    with pytest.raises(ValueError, match="read-only"):
        model.params["weight_hh"][0, 0] = 1.0


def test_bad_inputs_name_the_argument():
    model = build_model("rnn", 3, 4)
    with pytest.raises(
        EngineError, match=r"xs: expected shape \(T, B, 3\) or \(T, 3\), got \(5, 2\)"
    ):
        forward(model, np.zeros((5, 2)))
    with pytest.raises(EngineError, match=r"xs: expected .*got \(5,\)"):
        forward(model, np.zeros(5))
    with pytest.raises(EngineError, match="xs: expected a real numeric array.*complex"):
        forward(model, np.zeros((5, 3), dtype=complex))
    with pytest.raises(EngineError, match="xs: expected a real numeric array.*<U"):
        forward(model, [["a", "b", "c"]])
    with pytest.raises(EngineError, match="xs: expected a real numeric array.*object"):
        forward(model, np.array([[None, 1, 2]], dtype=object))
    with pytest.raises(EngineError, match=r"state0\[0\] \(h0\): expected shape \(2, 4\)"):
        forward(model, np.zeros((5, 2, 3)), (np.zeros((3, 4)),))
    tr = forward(model, np.zeros((5, 2, 3)))
    with pytest.raises(EngineError, match=r"dh: expected shape \(5, 2, 4\), got \(5, 4\)"):
        backward(model, tr, np.zeros((5, 4)))
    with pytest.raises(EngineError, match="dc: expected None for rnn"):
        backward(model, tr, np.zeros((5, 2, 4)), np.zeros((5, 2, 4)))
    other = build_model("gru", 3, 4)
    with pytest.raises(EngineError, match="trace: expected a trace of this gru model"):
        backward(other, tr, np.zeros((5, 2, 4)))
