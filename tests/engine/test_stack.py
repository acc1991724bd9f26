"""Stacked layers (engine.stack): central finite differences for every parameter of every
layer and for every layer's total dL/dh^(l)_t, for 2- and 3-layer stacks of every kind; one
layer is exactly the single-layer code path; exact per-layer logs beyond float64."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import EngineError, backward, build_model, cells, forward
from lstmviz.engine.stack import (
    StackedModel,
    build_stack,
    layer_key,
    stack_backward,
    stack_forward,
)

from .helpers import numeric_grad, rel_error

T, B, I, H = 4, 2, 3, 3


def _loss_fn(stack: StackedModel, xs, w, pert=None) -> float:
    """sum(w * h^(L)) by a plain step loop; pert = (layer, t, b, j, delta) adds delta to
    h^(layer)_t (state component 0: h, or the LRU's s whose real part is h)."""
    inp = xs
    for l, m in enumerate(stack.layers):
        s = m.zero_state(B)
        hs = []
        for t in range(T):
            s, _ = m.step(inp[t], s)
            if pert is not None and pert[0] == l and pert[1] == t:
                s0 = np.array(s[0])
                s0[pert[2], pert[3]] += pert[4]
                s = (s0, *s[1:])
            hs.append(m.cell.h_of(s))
        inp = np.stack(hs)
    return float(np.sum(w * inp))


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("kind", cells.kinds())
def test_stack_gradients_match_finite_differences(kind, L):
    stack = build_stack(kind, I, H, num_layers=L, seed=3)
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((T, B, I))
    w = rng.standard_normal((T, B, H))
    tr = stack_forward(stack, xs)
    np.testing.assert_allclose(tr.h, _loss_h(stack, xs), rtol=1e-13, atol=1e-14)
    g = stack_backward(stack, tr, w)
    assert set(g.params) == {layer_key(k, l, L) for l in range(L)
                             for k in stack.layers[0].params}
    first = next(iter(stack.layers[0].params))
    assert f"{first}_l0" in g.params and f"{first}_l{L - 1}" in g.params
    for key, value in stack.params.items():
        def f(v, key=key):
            return _loss_fn(stack.with_params({**stack.params, key: v}), xs, w)

        assert rel_error(g.params[key], numeric_grad(f, value).reshape(value.shape)) < 1e-6, key
    for l in range(L):
        num = np.empty((T, B, H))
        for t in range(T):
            for b in range(B):
                for j in range(H):
                    fp = _loss_fn(stack, xs, w, (l, t, b, j, 1e-6))
                    fm = _loss_fn(stack, xs, w, (l, t, b, j, -1e-6))
                    num[t, b, j] = (fp - fm) / 2e-6
        assert rel_error(g.layers[l].h, num) < 1e-6, f"layer {l}"
        full = num if not np.iscomplexobj(g.layers[l].states[0]) else g.layers[l].states[0]
        # (the LRU's log10_h is of its whole complex ds_t, see unroll.Grads; its Re is num)
        want = np.log10(np.linalg.norm(np.abs(full).reshape(T, -1), axis=1))
        np.testing.assert_allclose(g.log10_h_layers[l], want, atol=1e-5)
        # the gradient passed down into layer l's h (or the input's, l = 0)
        np.testing.assert_allclose(g.log10_x_layers[l], np.log10(np.linalg.norm(
            np.abs(g.layers[l].x).reshape(T, -1), axis=1)), atol=1e-9)
    num_x = numeric_grad(lambda v: _loss_fn(stack, v, w), xs).reshape(xs.shape)
    assert rel_error(g.x, num_x) < 1e-6


def _loss_h(stack, xs):
    inp = xs
    for m in stack.layers:
        s = m.zero_state(B)
        hs = []
        for t in range(T):
            s, _ = m.step(inp[t], s)
            hs.append(m.cell.h_of(s))
        inp = np.stack(hs)
    return inp


@pytest.mark.parametrize("kind", cells.kinds())
def test_one_layer_is_the_single_layer_code_path(kind):
    model = build_model(kind, I, H, seed=4)
    stack = build_stack(kind, I, H, num_layers=1, seed=4)
    assert set(stack.params) == set(model.params)
    for k, v in model.params.items():
        np.testing.assert_array_equal(stack.params[k], v)
    xs = np.random.default_rng(0).standard_normal((T, B, I))
    dh = np.random.default_rng(1).standard_normal((T, B, H))
    tr, st = forward(model, xs), stack_forward(stack, xs)
    g, sg = backward(model, tr, dh), stack_backward(stack, st, dh)
    np.testing.assert_array_equal(st.h, tr.h)
    for k in model.params:
        np.testing.assert_array_equal(sg.params[k], g.params[k])
    np.testing.assert_array_equal(sg.log10_h_layers[0], g.log10_h)


def test_per_layer_logs_stay_exact_beyond_float64():
    """A 2-layer RNN with tiny weights: the gradient at the bottom layer falls far below
    float64's smallest number, yet its log10 norm is the exact sum of per-step logs."""
    Tl = 400
    stack = build_stack("rnn", 1, 2, num_layers=2, seed=0)
    small = {k: (v * 0.0 + 0.01 * np.sign(v) if k.startswith("weight") else v * 0.0)
             for k, v in stack.params.items()}
    stack = stack.with_params(small)
    xs = np.zeros((Tl, 1, 1))
    dh = np.zeros((Tl, 1, 2))
    dh[-1] = 1.0
    g = stack_backward(stack, stack_forward(stack, xs), dh)
    logs = g.log10_h_layers
    assert np.all(np.isfinite(logs))
    assert logs[0, 0] < -700  # below float64 (denormals end near 1e-324)
    assert np.all(g.layers[0].h[0] == 0.0)  # the float64 value underflows ...
    # ... and the log agrees with a reference linear backward carried as (unit vector, log10
    # scale): h_t = tanh(0) = 0, so each step's Jacobian is W_hh and depth's is W_ih_l1
    whh0 = stack.layers[0].params["weight_hh"]
    whh1 = stack.layers[1].params["weight_hh"]
    wih1 = stack.layers[1].params["weight_ih"]

    def norm(v, lg):
        n = np.linalg.norm(v)
        return (v / n, lg + np.log10(n)) if n > 0 else (v, -np.inf)

    def add(a, b):
        if a[1] == -np.inf:
            return b
        m = max(a[1], b[1])
        return norm(a[0] * 10 ** (a[1] - m) + b[0] * 10 ** (b[1] - m), m)

    g1 = norm(np.array([1.0, 1.0]), 0.0)
    g0 = (np.zeros(2), -np.inf)
    for t in range(Tl - 1, -1, -1):
        np.testing.assert_allclose(logs[1, t], g1[1], atol=1e-9)
        np.testing.assert_allclose(g.log10_x_layers[1, t], norm(g1[0] @ wih1, g1[1])[1],
                                   atol=1e-9)
        g0 = add(norm(g1[0] @ wih1, g1[1]), g0)
        np.testing.assert_allclose(logs[0, t], g0[1], atol=1e-9)
        g1 = norm(g1[0] @ whh1, g1[1])
        g0 = norm(g0[0] @ whh0, g0[1])
    assert logs[0, 0] < logs[0, -1] - 700


def test_bad_layer_counts_are_refused():
    for bad in (0, 5, 1.5, True, "2"):
        with pytest.raises(EngineError, match="num_layers: expected an integer from 1 to 4"):
            build_stack("lstm", 2, 3, num_layers=bad)
    m1, m2 = build_model("lstm", 2, 3), build_model("lstm", 2, 3)
    with pytest.raises(EngineError, match=r"layers\[1\]: expected input size 3"):
        StackedModel((m1, m2))
