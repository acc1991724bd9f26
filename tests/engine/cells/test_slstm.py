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


# -- extreme inputs: an empty (zero) initial state and i~, f~ of +-1e4 -----------------------
LONG = np.finfo(np.longdouble).maxexp >= 16384  # x87 80-bit: exp(1e4) = 10^4343 is finite


def plain_long(p, xs, forget_gate):
    """The unstabilised sLSTM in extended precision (exponent range 10^+-4932): an
    independent reference where exp(+-1e4) under- or overflows float64."""
    L = np.longdouble
    q = {k: np.asarray(v, dtype=L) for k, v in p.items()}
    xs = np.asarray(xs, dtype=L)
    T, B, _ = xs.shape
    H = q["weight_hh"].shape[1]
    h, c, n = (np.zeros((B, H), dtype=L) for _ in range(3))
    out = np.empty((T, B, H), dtype=L)
    for t in range(T):
        a = xs[t] @ q["weight_ih"].T + q["bias_ih"] + h @ q["weight_hh"].T + q["bias_hh"]
        i = np.exp(a[:, :H])
        ft = a[:, H:2 * H]
        f = np.exp(ft) if forget_gate == "exp" else 1 / (1 + np.exp(-ft))
        c = f * c + i * np.tanh(a[:, 2 * H:3 * H])
        n = f * n + i
        h = c / n / (1 + np.exp(-a[:, 3 * H:]))
        out[t] = h
    return out.astype(np.float64)


def strict_run(kind, p, xs, wh, **options):
    """Forward and BPTT by the kind's own step / step_back with every numpy warning an
    error but underflow (run_forward quietens them): -> (h (T, B, H), dparams)."""
    o = kind.make_opts(**options)
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    # underflow to 0 (exp(-1e4)) is exact rounding and numpy's default; the rest raises
    with np.errstate(all="raise", under="ignore"):
        s = kind.zero_state(B, H)
        hs, caches = [], []
        for t in range(T):
            s, cache = kind.step(p, o, xs[t], s)
            hs.append(s[0])
            caches.append(cache)
        d = tuple(np.zeros((B, H)) for _ in kind.state)
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        for t in range(T - 1, -1, -1):
            d = (d[0] + wh[t], *d[1:])
            d, _dx, dp = kind.step_dparams(p, o, d, caches[t])
            for k, v in dp.items():
                grads[k] += v
    return np.stack(hs), grads


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
@pytest.mark.parametrize("value", [-1e4, 1e4])
def test_inputs_of_1e4_are_finite_exact_and_warning_free(value, forget_gate):
    """x = +-1e4 (pre-activations ~ +-1e4): with m_0 = 0 taken literally this was 0/0 at
    step 1 (i' underflowed to 0); now h and every gradient are finite, equal to the
    extended-precision unstabilised cell and to central differences, with no warning."""
    kind = get("slstm")
    T, B, I, H = 5, 2, 2, 3
    rng = np.random.default_rng(3)
    p = kind.init_params(I, H, rng)
    xs = value * np.sign(rng.standard_normal((T, B, I)))
    wh = rng.standard_normal((T, B, H))
    h, g = strict_run(kind, p, xs, wh, forget_gate=forget_gate)
    assert np.isfinite(h).all()
    assert all(np.isfinite(v).all() for v in g.values())
    fw = run_forward(kind, p, xs, forget_gate=forget_gate)
    np.testing.assert_array_equal(fw.h, h)
    if LONG and forget_gate == "sigmoid":  # exp(1e4) forget gates overflow even 10^4932
        np.testing.assert_allclose(h, plain_long(p, xs, forget_gate), rtol=1e-12, atol=1e-300)
    for name in ("bias_ih", "bias_hh", "weight_hh"):

        def f(a, name=name):
            return float(np.sum(wh * run_forward(kind, {**p, name: a}, xs,
                                                 forget_gate=forget_gate).h))

        num = numeric_grad(f, p[name]).reshape(p[name].shape)
        np.testing.assert_allclose(g[name], num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
@pytest.mark.parametrize(("block", "value"), [(0, -1e4), (0, 1e4), (1, -1e4), (1, 1e4)])
def test_gate_biases_of_1e4_against_extended_precision_and_finite_differences(
        block, value, forget_gate):
    """i~ (block 0) or f~ (block 1) shifted by +-1e4 through the bias, every other input
    moderate: h equals the unstabilised cell computed in extended precision, and every
    parameter's gradient its central differences (the gradient is not trivially 0 here)."""
    kind = get("slstm")
    T, B, I, H = 5, 2, 2, 2
    rng = np.random.default_rng(4)
    p = kind.init_params(I, H, rng)
    p["bias_ih"][block * H:(block + 1) * H] += value
    xs = rng.standard_normal((T, B, I))
    wh = rng.standard_normal((T, B, H))
    h, g = strict_run(kind, p, xs, wh, forget_gate=forget_gate)
    overflows_long = forget_gate == "exp" and block == 1 and value > 0  # f^T = e^(5e4)
    if LONG and not overflows_long:  # float64 rounds i~ = -1e4 + a to ulp(1e4) = 2e-12
        np.testing.assert_allclose(h, plain_long(p, xs, forget_gate), rtol=1e-10, atol=1e-12)
    total = 0.0
    for name, v in p.items():

        def f(a, name=name):
            return float(np.sum(wh * run_forward(kind, {**p, name: a}, xs,
                                                 forget_gate=forget_gate).h))

        num = numeric_grad(f, v).reshape(v.shape)
        assert rel_err(g[name], num) < 1e-6, name
        total += float(np.abs(num).sum())
    assert total > 1e-3  # a real check, not 0 == 0
