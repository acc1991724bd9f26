"""Diagnostics against independent references: finite-difference Jacobians, the RNN bound,
the LSTM constant error carousel, and overflow handling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lstmviz.engine import (
    KINDS,
    backward,
    build_model,
    cells,
    compute_diagnostics,
    forward,
    rnn_bound,
)
from lstmviz.engine.activations import sigmoid
from lstmviz.engine.linalg import spectral_norms


def _run(model, xs, dh=None):
    tr = forward(model, xs)
    dh = np.ones_like(tr.h) if dh is None else dh
    g = backward(model, tr, dh)
    return tr, g, compute_diagnostics(model, tr, g)


def _fd_jacobian(f, x, eps=1e-6):
    """d f / d x for vector x (n,) by central differences -> (m, n)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return np.stack(cols, axis=1)


def _scaled(kind, I, H, **kw):
    """A model with weight_scale 1.5 where the kind has one."""
    ws = {"weight_scale": 1.5} if cells.get(kind).weight_scale is not None else {}
    return build_model(kind, I, H, **ws, **kw)


@pytest.mark.parametrize("kind", [k for k in KINDS if cells.get(k).prod_block == "h"])
def test_jacobian_norms_match_finite_difference_jacobians(kind):
    rng = np.random.default_rng(1)
    T, I, H = 6, 2, 4
    model = _scaled(kind, I, H, seed=3)
    xs = rng.standard_normal((T, 2, I))
    tr, g, d = _run(model, xs)

    def run_from(t, h_t, steps):
        """h after `steps` more steps from state at step t (0 = initial), the other state
        components held at the trace."""
        st = (h_t[None], *(s[:1] for s in tr.state(t)[1:]))
        return forward(model, xs[t : t + steps, :1], st).h[-1, 0]

    for t in range(T):  # step t+1 maps state t -> t+1
        h_t = tr.state(t)[0][0]
        jac = _fd_jacobian(lambda v, t=t: run_from(t, v, 1), h_t)
        assert d.jac_step_norm[t] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-6)
        if t >= 1:
            prod = _fd_jacobian(lambda v, t=t: run_from(t, v, T - t), h_t)
            assert d.jac_prod_norm[t - 1] == pytest.approx(np.linalg.norm(prod, 2), rel=1e-6)
    assert d.jac_prod_norm[-1] == 1.0


def test_lstm_cell_path_split_matches_finite_differences():
    rng = np.random.default_rng(2)
    T, I, H = 5, 2, 3
    model = build_model("lstm", I, H, seed=4)
    xs = rng.standard_normal((T, 1, I))
    tr, g, d = _run(model, xs)
    np.testing.assert_allclose(d.cell_direct, tr.gates["forget"][:, 0].max(axis=1))
    assert d.cell_indirect[0] == 0.0
    for t in range(1, T):
        # total dc_{t+1}/dc_t through h_t = o_t tanh(c_t), minus the direct diag(f_{t+1})
        o_t = tr.gates["output"][t - 1, 0]

        def c_next(c, t=t, o_t=o_t):
            st = (o_t[None] * np.tanh(c[None]), c[None])
            return forward(model, xs[t : t + 1], st).c[0, 0]

        jac = _fd_jacobian(c_next, tr.c[t - 1, 0]) - np.diag(tr.gates["forget"][t, 0])
        assert d.cell_indirect[t] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-6)


def test_rnn_bound_holds_for_tanh_below_one():
    model = build_model("rnn", 3, 16, seed=7, weight_scale=0.8)
    T = 60
    xs = np.random.default_rng(0).standard_normal((T, 1, 3))
    _, _, d = _run(model, xs)
    assert d.rnn_bound == pytest.approx(0.8, rel=1e-12)
    assert rnn_bound(model) == d.rnn_bound
    t = np.arange(1, T + 1)
    assert np.all(d.jac_prod_norm <= 0.8 ** (T - t) + 1e-12)
    assert d.jac_prod_norm[0] < 1e-6  # it really vanishes


def test_sigmoid_rnn_bound_uses_quarter():
    model = build_model("rnn", 1, 4, activation="sigmoid", weight_scale=2.0)
    assert rnn_bound(model) == pytest.approx(0.5)
    assert rnn_bound(build_model("gru", 1, 4)) is None


def test_lstm_saturated_forget_gate_keeps_cell_gradient():
    T, H = 100, 8
    model = build_model("lstm", 2, H, seed=1, init="xavier", forget_bias=20.0, weight_scale=0.01)
    params = dict(model.params, weight_ih=model.params["weight_ih"] * 0.01)
    model = model.with_params(params)
    xs = np.random.default_rng(3).standard_normal((T, 1, 2))
    tr = forward(model, xs)
    dh = np.zeros((T, 1, H))
    dh[-1] = 1.0
    g = backward(model, tr, dh)
    d = compute_diagnostics(model, tr, g)
    norms = d.grad_c_norm
    assert norms[-1] > 0
    assert np.all(np.abs(norms / norms[-1] - 1) < 0.05)
    assert np.all(d.cell_direct > 0.999)


@pytest.mark.parametrize("kind", KINDS)
def test_whh_contrib_is_norm_of_each_steps_term(kind):
    rng = np.random.default_rng(0)
    model = build_model(kind, 2, 3, seed=2)
    xs = rng.standard_normal((5, 3, 2))
    tr = forward(model, xs)
    dh = rng.standard_normal((5, 3, 3))
    g = backward(model, tr, dh)
    d = compute_diagnostics(model, tr, g)
    if model.cell.recurrent is None:  # no W_hh: NaN and a note, never a silent 0
        assert np.all(np.isnan(g.whh_contrib)) and np.all(np.isnan(d.log10_whh))
        assert "no recurrent weight matrix" in d.whh_note
        return
    assert d.whh_note == ""
    # replay every step's step_back (plain float, no rescaling) and take its dweight_hh term
    terms = [0.0] * 5
    dnext = tuple(np.zeros_like(s) for s in tr.state0)
    for t in range(4, -1, -1):
        dstate = (dnext[0] + dh[t], *dnext[1:])
        dnext, _, dp = model.step_back(dstate, tr.cache(t))
        terms[t] = np.linalg.norm(dp["weight_hh"])
    np.testing.assert_allclose(g.whh_contrib, terms, rtol=1e-12)
    np.testing.assert_allclose(d.whh_contrib, terms, rtol=1e-12)


def test_lru_jacobians_are_its_eigenvalues():
    """The LRU's state Jacobian is diag(lambda): ||prod|| = max_j |lambda_j|^(T - t) exactly."""
    model = build_model("lru", 2, 5, seed=1)
    tr, g, d = _run(model, np.random.default_rng(0).standard_normal((50, 1, 2)))
    mod = np.abs(np.exp(-np.exp(model.params["nu_log"]) + 1j * np.exp(model.params["theta_log"])))
    np.testing.assert_allclose(d.jac_step_norm, mod.max(), rtol=1e-14)
    want = (50 - np.arange(1, 51)) * np.log10(mod.max())
    np.testing.assert_allclose(d.log10_jac_prod, want, rtol=1e-12, atol=1e-12)
    assert d.sigma_max == pytest.approx(mod.max(), rel=1e-14)
    assert d.rnn_bound is None and "bounds nothing" in d.bound_note or d.bound_note


def test_grad_norms_are_frobenius_over_batch_and_hidden():
    rng = np.random.default_rng(0)
    model = build_model("lstm", 2, 3)
    tr, g, d = _run(model, rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 5, 3)))
    np.testing.assert_allclose(d.grad_h_norm, np.linalg.norm(g.h.reshape(4, -1), axis=1))
    np.testing.assert_allclose(d.grad_c_norm, np.linalg.norm(g.c.reshape(4, -1), axis=1))
    assert d.sigma_max == pytest.approx(
        max(np.linalg.norm(model.params["weight_hh"][k * 3 : k * 3 + 3], 2) for k in range(4))
    )


def _exploding_model(H=32):
    """relu rnn with weight_scale 3 whose W_hh is entry-wise positive, so relu never cuts the
    growth: ||h_t|| grows like 3^t (a random-sign W_hh at scale 3 grows far more slowly)."""
    m = build_model("rnn", 1, H, seed=0, activation="relu", weight_scale=3.0)
    w = np.abs(m.params["weight_hh"])
    return m.with_params(dict(m.params, weight_hh=w * (3.0 / np.linalg.norm(w, 2))))


def _first_bad(a, last=False):
    a = np.asarray(a)
    idx = np.flatnonzero((~np.isfinite(a)).any(axis=(1, 2)))
    return None if idx.size == 0 else int(idx[-1] if last else idx[0])


def test_huge_but_finite_relu_rnn_is_no_overflow():
    """3^t stays finite up to t = 646: T = 500 reaches 10^238, which is not an overflow."""
    model = _exploding_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = forward(model, np.ones((500, 2, 1)))
        g = backward(model, tr, np.ones_like(tr.h))
        d = compute_diagnostics(model, tr, g)
    assert np.abs(tr.h).max() > 1e200
    assert tr.overflow_step is None and g.overflow_step is None and d.overflow_step is None
    assert np.all(np.isfinite(d.log10_grad_h)) and np.all(np.isfinite(d.log10_jac_prod))
    assert 200 < d.log10_jac_prod[0] <= 499 * np.log10(3.0) + 1e-9  # ||W^499|| <= 3^499


def test_exploding_relu_rnn_overflows_without_warnings_or_errors():
    T = 1000
    model = _exploding_model()
    xs = np.ones((T, 2, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = forward(model, xs)
        g = backward(model, tr, np.ones_like(tr.h))
        d = compute_diagnostics(model, tr, g)
    # 3^t overflows float64 near t = 646: inf and NaN appear, nothing raises
    assert 600 < tr.overflow_step < 700
    assert tr.overflow_step == _first_bad(tr.h)
    assert np.all(np.isfinite(tr.h[: tr.overflow_step]))
    assert d.overflow_step == tr.overflow_step
    # everything that depends on a non-finite state is NaN, never 0
    k = tr.overflow_step
    assert np.all(np.isnan(g.h)) and np.all(np.isnan(d.log10_grad_h))
    assert all(np.all(np.isnan(v)) for v in g.params.values())
    assert np.all(np.isnan(d.whh_contrib)) and np.all(np.isnan(d.log10_whh))
    assert np.all(np.isnan(d.jac_step_norm[k + 1:]))  # relu'(inf or NaN) is NaN
    assert np.all(np.isnan(d.jac_prod_norm[:-1]))
    assert np.all(np.isfinite(d.jac_step_norm[:k]))


def test_random_sign_relu_rnn_at_scale_3_grows_but_stays_finite():
    """The plain brief scenario (pytorch init, weight_scale 3, T=500) grows slowly: no overflow."""
    model = build_model("rnn", 1, 32, seed=0, activation="relu", weight_scale=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = forward(model, np.ones((500, 1, 1)))
    assert np.abs(tr.h[-1]).max() > 1e6
    assert tr.overflow_step is None


@pytest.mark.parametrize("kind", KINDS)
def test_huge_inputs_saturate_without_warnings(kind):
    acts = [o.choices for o in cells.get(kind).options if o.name == "activation"]
    model = build_model(kind, 1, 3, activation="sigmoid" if not acts or "sigmoid" in acts[0]
                        else None)
    xs = np.array([1e4, -1e4, 1e4, np.inf, -np.inf])[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = forward(model, xs[:3])
        _run(model, xs[:3])
        forward(model, xs)
    if kind == "slstm":
        # known limit: from the zero state, exp(i~ - m_1) underflows for i~ = -1e4, so n_1 = 0
        # and h_1 = o c / n is NaN (truth: o z); the trace flags it rather than hiding it
        assert np.all(np.isfinite(tr.h)) or tr.overflow_step is not None
    elif kind not in ("lru", "indrnn", "mingru", "minlstm"):  # linear in x: 1e4 stays large
        assert np.all(np.isfinite(tr.h))


def test_sigmoid_is_stable_and_exact_in_the_tails():
    x = np.array([-1e4, -745.0, -40.0, 0.0, 40.0, 1e4, np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(x)
    assert s[0] == 0.0
    assert s[2] == pytest.approx(np.exp(-40.0), rel=1e-12)
    np.testing.assert_array_equal(s[3:], [0.5, 1.0, 1.0, 1.0, 0.0])


def test_spectral_norms_guard_non_finite_and_scale():
    m = np.stack(
        [np.eye(3) * 1e200, np.full((3, 3), np.nan), np.zeros((3, 3)), np.diag([1, 2, 3.0])]
    )
    m[1, 0, 0] = np.inf
    out = spectral_norms(m)
    assert out[0] == pytest.approx(1e200)
    assert np.isnan(out[1])
    assert out[2] == 0.0
    assert out[3] == pytest.approx(3.0)


def _dense_walk_log10(full: np.ndarray, H: int) -> np.ndarray:
    """log10 ||(M_{n-1} ... M_{k+1})[:H, :H]||_2 per k by explicit products (the plain walk)."""
    n, S, _ = full.shape
    out, p = np.empty(n), np.eye(S)
    for k in range(n - 1, -1, -1):
        out[k] = np.log10(np.linalg.norm(p[:H, :H], 2))
        p = p @ full[k]
    return out


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "slstm"])
def test_product_walk_equals_the_plain_dense_walk(kind):
    """The running-product walk (power-of-two rescaling, buffers) gives the norms of the
    explicit products: at small T where the scale is unused, and with the Jacobians scaled
    by 2^-150 and 2^+150 per step (exact), products far below 1e-300 and above 1e300."""
    from lstmviz.engine import diagnostics as dg

    T, H = 12, 5
    model = _scaled(kind, 3, H, seed=4)
    tr, _, d = _run(model, np.random.default_rng(2).standard_normal((T, 2, 3)))
    full = model.cell.jacobian(model.params, model.o, tr.caches(slice(0, T))).full
    ref = _dense_walk_log10(full, H)
    np.testing.assert_allclose(d.log10_jac_prod, ref, rtol=1e-12, atol=1e-12)
    S = full.shape[1]
    for e in (-150, 150):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, log_r, got = dg._products(model.cell, [np.ldexp(full, e)], np.eye(S)[:H], 0, H,
                                         True)
        want = ref + e * (T - 1 - np.arange(T)) * np.log10(2.0)
        assert abs(got[0]) > 300  # the longest product is beyond float64's range
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
