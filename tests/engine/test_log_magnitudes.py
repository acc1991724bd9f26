"""Exact log-domain magnitudes (DESIGN.md, "Magnitudes"): the engine's log10 norms against an
independent rescaled backward pass written here, far beyond float64 (10^-777)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from lstmviz.engine import backward, build_model, compute_diagnostics, forward
from lstmviz.engine.linalg import (
    frobenius_per_step,
    log10_frob_products,
    log10_frobenius_per_step,
)
from lstmviz.engine.readout import build_readout, loss_and_grad

LN10 = math.log(10.0)


def _run(model, T, B=1, seed=0):
    xs = np.random.default_rng(seed).standard_normal((T, B, model.input_size))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = forward(model, xs)
        ro = build_readout(model.hidden_size, 1, seed=3)
        _, dh, _ = loss_and_grad(ro, tr.h, np.ones((B, 1)), where="last")
        g = backward(model, tr, dh)
        d = compute_diagnostics(model, tr, g)
    return tr, dh, g, d


def _reference_rnn(model, tr, dh):
    """log10 ||dL/dh_t|| by a backward pass normalised to unit norm every step (natural-log
    scale kept apart): dh_{t-1} = (dh_t * phi'(pre_t)) @ W_hh (tanh, loss at T only)."""
    T = tr.h.shape[0]
    w = model.params["weight_hh"]
    v = np.array(dh[-1])
    log_s = 0.0
    out = np.empty(T)
    for t in range(T - 1, -1, -1):
        n = np.linalg.norm(v)
        log_s += math.log(n)
        v = v / n
        out[t] = log_s / LN10
        v = (v * (1.0 - tr.h[t] ** 2)) @ w
    return out


def _reference_lstm(model, tr, dh):
    """log10 ||dL/dh_t||, ||dL/dc_t|| from the LSTM equations, normalised every step."""
    T, _, H = tr.h.shape
    w = model.params["weight_hh"]
    i, f, g, o = (tr.gates[k] for k in ("input", "forget", "cell", "output"))
    tc = np.tanh(tr.c)
    c_prev = np.concatenate((tr.c0[None], tr.c[:-1]))
    vh, vc = np.array(dh[-1]), np.zeros_like(dh[-1])
    log_s = 0.0
    out_h, out_c = np.empty(T), np.empty(T)
    for t in range(T - 1, -1, -1):
        n = math.sqrt(float(np.sum(vh**2) + np.sum(vc**2)))
        log_s += math.log(n)
        vh, vc = vh / n, vc / n
        dct = vc + vh * o[t] * (1 - tc[t] ** 2)
        out_h[t] = (log_s + math.log(np.linalg.norm(vh))) / LN10
        out_c[t] = (log_s + math.log(np.linalg.norm(dct))) / LN10
        da = np.concatenate((dct * g[t] * i[t] * (1 - i[t]), dct * c_prev[t] * f[t] * (1 - f[t]),
                             dct * i[t] * (1 - g[t] ** 2), vh * tc[t] * o[t] * (1 - o[t])), axis=1)
        vh, vc = da @ w, dct * f[t]
    return out_h, out_c


def test_tanh_rnn_ratio_near_1e_minus_777_is_exact():
    model = build_model("rnn", 2, 8, seed=0, weight_scale=0.3)
    tr, dh, g, d = _run(model, 1000)
    ref = _reference_rnn(model, tr, dh)
    np.testing.assert_allclose(d.log10_grad_h, ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.log10_h, ref, rtol=0, atol=1e-9)
    ratio = d.log10_grad_h[0] - d.log10_grad_h[-1]
    assert ratio < -500  # far beyond float64 (the brief's run is near 10^-777)
    assert np.all(np.isfinite(d.log10_grad_h))
    # the float fields are the float64 values: 0 where they underflow, never a log floor
    assert d.grad_h_norm[0] == 0.0 and g.h[0].max() == 0.0
    k = np.flatnonzero(d.log10_grad_h > -300)
    np.testing.assert_allclose(np.log10(d.grad_h_norm[k]), d.log10_grad_h[k], atol=1e-12)
    # the bound line: log10 ||dL/dh_T|| + (T - t) log10(sigma gamma), and the data obey it
    slope = math.log10(d.rnn_bound)
    assert d.log10_bound_line[0] == pytest.approx(d.log10_grad_h[-1] + 999 * slope, abs=1e-9)
    assert np.all(d.log10_grad_h <= d.log10_bound_line + 1e-9)


def test_lstm_forget_bias_0_at_T_1000_is_exact():
    model = build_model("lstm", 2, 8, seed=0, forget_bias=0.0)
    tr, dh, g, d = _run(model, 1000)
    ref_h, ref_c = _reference_lstm(model, tr, dh)
    np.testing.assert_allclose(d.log10_grad_h, ref_h, rtol=0, atol=1e-9)
    np.testing.assert_allclose(d.log10_grad_c, ref_c, rtol=0, atol=1e-9)
    assert d.log10_grad_h[0] - d.log10_grad_h[-1] < -150
    assert np.all(np.isfinite(d.log10_grad_h)) and np.all(np.isfinite(d.log10_grad_c))


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_whh_terms_are_exact_in_the_log_domain(kind):
    """log10 of each step's dL/dW_hh term agrees with ||dgates_t^T h_{t-1}||_F from the float
    gradient where that is representable, and keeps going where the float underflows."""
    model = build_model(kind, 2, 6, seed=1, weight_scale=0.3)
    tr, dh, g, d = _run(model, 700 if kind == "rnn" else 1500, B=2)
    assert np.all(np.isfinite(d.log10_whh[1:]))
    assert d.log10_whh[1] < -300 and d.whh_contrib[1] == 0.0
    k = np.flatnonzero(d.log10_whh > -140)  # np.linalg.norm squares: keep clear of 1e-154
    hp = tr.h_prev()
    direct = [np.linalg.norm(model.step_back_pre((g.h[t],), tr.cache(t, model._cell))[2].T
                             @ hp[t]) for t in k]
    np.testing.assert_allclose(10.0 ** d.log10_whh[k], direct, rtol=1e-10)


def test_norms_of_tiny_and_huge_entries():
    for e in (-200, 200, -305, 305):
        a = np.full((2, 3, 4), 10.0**e)
        logs = log10_frobenius_per_step(a)
        np.testing.assert_allclose(logs, e + 0.5 * math.log10(12), atol=1e-12)
        np.testing.assert_allclose(frobenius_per_step(a), 10.0**e * math.sqrt(12), rtol=1e-14)
        u = np.full((2, 1, 3), 10.0**e)
        v = np.full((2, 1, 4), 1.0)
        np.testing.assert_allclose(log10_frob_products(u, v), e + 0.5 * math.log10(12),
                                   atol=1e-12)
    z = np.zeros((1, 3))
    assert log10_frobenius_per_step(z)[0] == -np.inf
    assert np.isnan(log10_frobenius_per_step(np.array([[1.0, np.nan]])))[0]
    assert log10_frobenius_per_step(np.array([[1.0, np.inf]]))[0] == np.inf


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_backward_is_linear_in_the_loss_gradient_at_any_scale(kind, scale):
    """dh * 1e-200 (or 1e+200) shifts every log10 norm by exactly -200 (+200); the float
    values are the scaled ones, with 0 / inf only where float64 cannot hold them."""
    model = build_model(kind, 2, 5, seed=2)
    xs = np.random.default_rng(1).standard_normal((60, 3, 2))
    tr = forward(model, xs)
    dh = np.random.default_rng(2).standard_normal(tr.h.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g1 = backward(model, tr, dh)
        g2 = backward(model, tr, dh * scale)
        d1 = compute_diagnostics(model, tr, g1)
        d2 = compute_diagnostics(model, tr, g2)
    shift = math.log10(scale)
    np.testing.assert_allclose(g2.log10_h, g1.log10_h + shift, rtol=0, atol=1e-10)
    np.testing.assert_allclose(d2.log10_whh, d1.log10_whh + shift, rtol=0, atol=1e-10)
    if kind == "lstm":
        np.testing.assert_allclose(g2.log10_c, g1.log10_c + shift, rtol=0, atol=1e-10)
    np.testing.assert_allclose(g2.h, g1.h * scale, rtol=1e-12)
    for k in g1.params:
        np.testing.assert_allclose(g2.params[k], g1.params[k] * scale, rtol=1e-9)


def test_dh_injected_at_every_step_after_a_vanishing_stretch():
    """A loss term joining a running gradient far below float64 (10^-400) is combined at a
    common scale: the total is the loss term (plus a negligible 10^-400)."""
    model = build_model("rnn", 1, 4, seed=0, weight_scale=0.05)
    T = 400
    tr = forward(model, np.random.default_rng(0).standard_normal((T, 1, 1)))
    dh = np.zeros(tr.h.shape)
    dh[-1] = 1.0
    dh[10] = 1e-3
    g = backward(model, tr, dh)
    assert g.log10_h[11] < -350  # far below float64 just above the injection
    assert g.log10_h[10] == pytest.approx(math.log10(2e-3), abs=1e-12)  # ||(1e-3,)*4||
    assert g.h[10] == pytest.approx(1e-3, rel=1e-12)
    ref = g.log10_h[9]
    assert np.isfinite(ref) and ref < g.log10_h[10]


def test_log10_loss_is_exact_where_the_float_loss_overflows():
    from lstmviz.engine.readout import log10_loss

    ro = build_readout(4, 2, seed=0)
    h = np.random.default_rng(0).standard_normal((5, 3, 4))
    tg = np.zeros((3, 2))
    value, _, _ = loss_and_grad(ro, h, tg)
    assert log10_loss(ro, h, tg) == pytest.approx(math.log10(value), abs=1e-12)
    big = h * 1e180  # outputs near 1e180: the mean square (1e360) overflows float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loss_and_grad(ro, big, tg)[0] == np.inf
        got = log10_loss(ro, big, tg)
    diff = (big[-1] / 1e180) @ ro.weight.T  # the bias and target are negligible at 1e180
    expected = 360 + math.log10(np.mean(diff**2))
    assert got == pytest.approx(expected, abs=1e-9)
