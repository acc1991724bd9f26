"""The sLSTM stabiliser changes neither h nor the gradient at moderate values, and keeps the
numbers finite where the unstabilised exponential gates overflow."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.activations import sigmoid
from lstmviz.engine.cells import get, run_backward, run_forward

from ..helpers import numeric_grad
from .cases import rel_err


def plain_slstm(p, xs, forget_gate):
    """The sLSTM without the stabiliser (c, n in plain units), zero initial state."""
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    h, c, n = (np.zeros((B, H)) for _ in range(3))
    out = np.empty((T, B, H))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            a = xs[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
            i = np.exp(a[:, :H])
            f = np.exp(a[:, H:2 * H]) if forget_gate == "exp" else sigmoid(a[:, H:2 * H])
            c = f * c + i * np.tanh(a[:, 2 * H:3 * H])
            n = f * n + i
            h = sigmoid(a[:, 3 * H:]) * c / n
            out[t] = h
    return out


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
def test_stabiliser_changes_neither_h_nor_gradient(forget_gate):
    kind = get("slstm")
    T, B, I, H = 6, 2, 3, 3
    rng = np.random.default_rng(0)
    p = kind.init_params(I, H, rng, forget_bias=1.0)
    xs = rng.standard_normal((T, B, I))
    wh = rng.standard_normal((T, B, H))
    fw = run_forward(kind, p, xs, forget_gate=forget_gate)
    assert np.abs(fw.states[3]).max() > 0.1  # the stabiliser is doing something
    np.testing.assert_allclose(fw.h, plain_slstm(p, xs, forget_gate), rtol=1e-12, atol=1e-14)
    g = run_backward(fw, wh)
    for name, v in p.items():

        def f(a, name=name):
            return float(np.sum(wh * plain_slstm({**p, name: a}, xs, forget_gate)))

        assert rel_err(g.dparams[name], numeric_grad(f, v).reshape(v.shape)) < 1e-6, name


def test_stabiliser_keeps_numbers_finite_where_plain_overflows():
    kind = get("slstm")
    T, B, I, H = 20, 1, 2, 2
    rng = np.random.default_rng(1)
    p = kind.init_params(I, H, rng)
    p["bias_ih"][:H] = 800.0  # i~ ~ 800: exp(800) overflows float64
    p["bias_ih"][H:2 * H] = 750.0  # exp forget gate: exp(750) overflows too
    xs = rng.standard_normal((T, B, I))
    plain = plain_slstm(p, xs, "exp")
    assert not np.isfinite(plain).all()  # without the stabiliser: inf / inf = NaN
    fw = run_forward(kind, p, xs, forget_gate="exp")
    assert np.isfinite(fw.h).all()
    assert np.isfinite(np.concatenate(fw.states[:3])).all()
    assert (fw.gates["input"] <= 1.0).all()
    assert (fw.gates["forget"] <= 1.0).all()
    assert fw.states[3].max() > 700  # m carries the scale the exp gates would have overflowed
    g = run_backward(fw, np.ones((T, B, H)))
    for v in (*g.dparams.values(), g.dx, *g.dstate0):
        assert np.isfinite(v).all()
    # the first step's h is exactly o z (c / n = i z / i), whatever the size of i
    a = xs[0] @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"]
    np.testing.assert_allclose(fw.h[0], sigmoid(a[:, 3 * H:]) * np.tanh(a[:, 2 * H:3 * H]),
                               rtol=1e-12)
