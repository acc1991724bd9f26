"""The certified fast spectral norms (linalg.product_norms, used for ||dh_T/dh_t||_2) against
np.linalg.norm(., 2): random RNN/LSTM/GRU runs, vanishing and exploding products, and crafted
stacks that must take the exact fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lstmviz.engine import backward, build_model, compute_diagnostics, forward, linalg
from lstmviz.engine import diagnostics as dg

RTOL = 1e-9


def _ref_products(model, tr):
    """||dh_T/dh_t||_2 for t = 1..T by the plain recursion, kept scaled (scale in logs) and
    np.linalg.norm (SVD) for each product: independent of eigvalsh and of the fast path."""
    T, _, H = tr.h.shape
    out = np.empty(T)
    full = model.cell.jacobian(model.params, model.o, tr.caches(slice(0, T))).full
    r, log_r = np.eye(full.shape[1])[:H], 0.0  # the h rows of the product of state Jacobians
    for k in range(T - 1, -1, -1):
        out[k] = np.exp(np.log(np.linalg.norm(r[:, :H], 2)) + log_r)
        r = r @ full[k]
        s = np.abs(r).max()
        r = r / s
        log_r += np.log(s)
    return out


def _diag(model, xs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = forward(model, xs)
        g = backward(model, tr, np.ones_like(tr.h))
        return tr, compute_diagnostics(model, tr, g)


CASES = [
    (kind, H, T, ws, seed)
    for kind in ("rnn", "lstm", "gru")
    for (H, T, ws, seed) in [
        (1, 50, 1.0, 0),
        (2, 120, 2.0, 1),
        (8, 300, 0.5, 2),
        (8, 200, 2.0, 3),
        (64, 120, 1.0, 4),
        (64, 300, 0.5, 5),
        (64, 200, 2.0, 6),
    ]
]


@pytest.mark.parametrize(("kind", "H", "T", "ws", "seed"), CASES)
def test_product_norms_match_svd_reference(kind, H, T, ws, seed):
    model = build_model(kind, 3, H, seed=seed, weight_scale=ws)
    xs = np.random.default_rng(seed).standard_normal((T, 1, 3))
    tr, d = _diag(model, xs)
    ref = _ref_products(model, tr)
    np.testing.assert_allclose(d.jac_prod_norm, ref, rtol=RTOL, atol=0)
    assert d.jac_prod_norm[-1] == 1.0


def test_typical_runs_mostly_take_the_fast_path():
    linalg.FAST_STATS.update(block=0, lanczos=0, fallback=0)
    for kind in ("rnn", "lstm", "gru"):
        for ws in (0.5, 1.0, 2.0):
            model = build_model(kind, 3, 64, seed=1, weight_scale=ws)
            _diag(model, np.random.default_rng(1).standard_normal((200, 1, 3)))
    st = linalg.FAST_STATS
    assert st["block"] > 0.5 * (st["block"] + st["fallback"])


def test_vanishing_products_below_1e100_are_reported():
    model = build_model("rnn", 3, 16, seed=0, weight_scale=0.5)
    T = 480  # ||dh_T/dh_1|| ~ 1e-300: the unscaled product's entries underflow long before
    tr, d = _diag(model, np.random.default_rng(0).standard_normal((T, 1, 3)))
    ref = _ref_products(model, tr)
    assert 1e-306 < ref[0] < 1e-250
    assert np.all(d.jac_prod_norm > 0)
    np.testing.assert_allclose(d.jac_prod_norm, ref, rtol=RTOL, atol=0)


def test_exploding_products_are_reported():
    H = 16
    m = build_model("rnn", 1, H, seed=0, activation="relu", weight_scale=3.0)
    w = np.abs(m.params["weight_hh"])
    model = m.with_params(dict(m.params, weight_hh=w * (3.0 / np.linalg.norm(w, 2))))
    T = 250  # 3^249 ~ 1e119: products grow far past 1e100, h stays below the overflow mark
    tr, d = _diag(model, np.ones((T, 1, 1)))
    ref = _ref_products(model, tr)
    assert ref[0] > 1e100
    np.testing.assert_allclose(d.jac_prod_norm, ref, rtol=RTOL, atol=0)


def _rotations(n, H, seed):
    """Orthogonal matrices times scalars: all singular values equal, vectors rotating."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((n, H, H)))[0]
    return q * np.exp(rng.standard_normal(n))[:, None, None]


@pytest.mark.parametrize("H", [2, 8, 64])
def test_repeated_top_singular_values_take_a_proved_or_exact_path(H):
    rng = np.random.default_rng(H)
    p = _rotations(6, H, H)
    # top two singular values equal, vectors unrelated from one matrix to the next
    u = np.linalg.qr(rng.standard_normal((6, H, H)))[0]
    v = np.linalg.qr(rng.standard_normal((6, H, H)))[0]
    s = np.sort(rng.uniform(0.1, 1.0, (6, H)), axis=1)[:, ::-1]
    s[:, :2] = 1.5
    p2 = (u * s[:, None, :]) @ v.transpose(0, 2, 1)
    stack = np.concatenate((p, p2))
    linalg.FAST_STATS.update(block=0, lanczos=0, fallback=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = linalg.product_norms(stack)
    ref = np.array([np.linalg.norm(m, 2) for m in stack])
    np.testing.assert_allclose(out, ref, rtol=RTOL, atol=0)
    assert linalg.FAST_STATS["block"] + linalg.FAST_STATS["fallback"] == len(stack)


def test_fallback_triggers_and_is_exact():
    """Singular values 1, 0.999, ... with vectors that rotate: the block from the first matrix
    is useless for the others and the spectra do not separate, so the exact path runs."""
    H, n = 64, 12
    rng = np.random.default_rng(7)
    s = 0.999 ** np.arange(H)
    mats = []
    for _ in range(n):
        u = np.linalg.qr(rng.standard_normal((H, H)))[0]
        v = np.linalg.qr(rng.standard_normal((H, H)))[0]
        mats.append((u * s) @ v.T)
    stack = np.stack(mats)
    linalg.FAST_STATS.update(block=0, lanczos=0, fallback=0)
    out = linalg.product_norms(stack)
    assert linalg.FAST_STATS["fallback"] > 0
    np.testing.assert_allclose(out, [np.linalg.norm(m, 2) for m in stack], rtol=RTOL, atol=0)


def test_non_finite_zero_and_huge_stacks():
    H = 8
    p = np.stack([np.eye(H) * 1e200, np.full((H, H), np.nan), np.zeros((H, H)), np.eye(H)])
    p[1, 0, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = linalg.product_norms(p)
    assert out[0] == pytest.approx(1e200, rel=RTOL)
    assert np.isnan(out[1])
    assert out[2] == 0.0
    assert out[3] == pytest.approx(1.0, rel=RTOL)
    assert linalg.product_norms(np.zeros((0, 3, 3))).shape == (0,)


def test_log10_unscale_is_exact_beyond_float64():
    norms = np.array([2.0, 0.0, np.nan, 3.0, 4.0, 0.5, 3.0])
    logs = np.array([0.0, 900.0, -900.0, -690.0, 1200.0, 1.0, -1200.0])  # log2 scales
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = dg._log10_unscale(norms, logs)
    assert out[0] == pytest.approx(np.log10(2.0), rel=1e-15)
    assert out[1] == -np.inf  # an exact zero
    assert np.isnan(out[2])
    assert out[3] == pytest.approx(np.log10(3.0) - 690.0 * np.log10(2.0), rel=1e-14)
    assert out[4] == pytest.approx(np.log10(4.0) + 1200.0 * np.log10(2.0), rel=1e-14)  # 10^361
    assert out[5] == pytest.approx(0.0, abs=1e-15)  # 0.5 * 2
    assert out[6] == pytest.approx(np.log10(3.0) - 1200.0 * np.log10(2.0), rel=1e-14)


def test_whh_contrib_does_not_overflow_before_the_values_do():
    """Each step's dL/dW_hh term is |u| |v| even when u*u would overflow (values ~1e160)."""
    from lstmviz.engine.unroll import frob_per_step

    rng = np.random.default_rng(0)
    for B in (1, 3):
        u = rng.normal(size=(4, B, 5))
        v = rng.normal(size=(4, B, 6))
        exact = np.array([np.linalg.norm(u[t].T @ v[t]) for t in range(4)])
        np.testing.assert_allclose(frob_per_step(u, v), exact, rtol=1e-12)
        big = frob_per_step(u * 1e160, v)
        np.testing.assert_allclose(big, exact * 1e160, rtol=1e-12)
        u2 = u.copy()
        u2[2, 0, 0] = np.nan
        out = frob_per_step(u2, v)
        assert np.isnan(out[2])
        assert np.isfinite(np.delete(out, 2)).all()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_diagnostics_in_two_stages_equal_the_full_computation(kind):
    """jacobians=False then complete_diagnostics gives exactly what one call gives."""
    from lstmviz import engine

    model = engine.build_model(kind, 2, 5, seed=3)
    xs = np.random.default_rng(1).normal(size=(12, 2))
    trace = engine.forward(model, xs)
    grads = engine.backward(model, trace, np.ones_like(trace.h))
    full = engine.compute_diagnostics(model, trace, grads)
    quick = engine.compute_diagnostics(model, trace, grads, jacobians=False)
    assert not quick.jacobians_ready
    assert np.isnan(quick.jac_prod_norm).all()
    np.testing.assert_array_equal(quick.grad_h_norm, full.grad_h_norm)
    done = engine.complete_diagnostics(model, trace, quick)
    assert done.jacobians_ready
    for name in ("jac_step_norm", "jac_prod_norm", "cell_indirect"):
        a, b = getattr(done, name), getattr(full, name)
        if b is None:
            assert a is None
        else:
            np.testing.assert_array_equal(a, b)
    assert engine.complete_diagnostics(model, trace, done) is done


def test_lstm_structured_left_product_equals_the_dense_one():
    """The LSTM's jac_left (two H x H products, two diagonal scalings) is r @ full."""
    model = build_model("lstm", 3, 16, seed=2, weight_scale=1.5)
    rng = np.random.default_rng(2)
    tr = forward(model, rng.standard_normal((10, 1, 3)))
    full = model.cell.jacobian(model.params, model.o, tr.caches(slice(0, 10))).full
    r = rng.standard_normal((16, 32))
    for k in range(10):
        dense = r @ full[k]
        np.testing.assert_allclose(model.cell.jac_left(r, full[k]), dense, rtol=1e-12,
                                   atol=1e-14 * np.abs(dense).max())


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_step_norms_in_the_pool_equal_those_computed_in_one_thread(kind, monkeypatch):
    """linalg.defer hands the one-step norms to the pool while the products are built: the
    same values as one thread, several chunks of steps included, and the SVD's norms."""
    from lstmviz import engine
    from lstmviz.engine import diagnostics as dg
    from lstmviz.engine import linalg

    model = engine.build_model(kind, 2, 6, seed=4)
    xs = np.random.default_rng(2).normal(size=(23, 2))
    trace = engine.forward(model, xs)
    grads = engine.backward(model, trace, np.ones_like(trace.h))
    monkeypatch.setattr(dg, "_CHUNK_ENTRIES", 6 * 6 * len(model.cell.state) * 5)  # 5 steps
    monkeypatch.setattr(linalg, "THREADS", 1)
    one = engine.compute_diagnostics(model, trace, grads)
    monkeypatch.setattr(linalg, "THREADS", 2)
    monkeypatch.setattr(linalg, "_SPLIT_ENTRIES", 1)
    monkeypatch.setattr(linalg, "DEFER_ENTRIES", 1)
    monkeypatch.setattr(linalg, "_core_spare", lambda: True)
    pieces = []
    saved = dg._pieces
    monkeypatch.setattr(dg, "_pieces", lambda sl, n: pieces.extend(saved(sl, n)) or saved(sl, n))
    two = engine.compute_diagnostics(model, trace, grads)
    sizes = [sl.stop - sl.start for sl in pieces]
    assert max(sizes) < 5 and sum(sizes) == 23  # each chunk of 5 steps in pieces
    assert linalg._pending == 0
    for name in ("jac_step_norm", "jac_prod_norm", "cell_indirect", "cell_direct"):
        a, b = getattr(one, name), getattr(two, name)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    jac = model.cell.jacobian(model.params, model.o, trace.caches(slice(None)))
    ref = np.array([np.linalg.norm(m, 2) for m in jac.step])
    np.testing.assert_allclose(two.jac_step_norm, ref, rtol=1e-12)


def test_a_cancel_during_the_products_drops_the_deferred_parts(monkeypatch):
    """A job cancelled while the products are built (its checkpoint raises) leaves no work
    queued in the linalg pool: the parts not started are dropped."""
    import time

    from lstmviz import engine
    from lstmviz.engine import linalg
    from lstmviz.engine.cancel import Cancelled, cancel_scope

    model = engine.build_model("lstm", 2, 16, seed=4)
    trace = engine.forward(model, np.random.default_rng(2).normal(size=(60, 2)))
    grads = engine.backward(model, trace, np.ones_like(trace.h))
    monkeypatch.setattr(linalg, "THREADS", 2)
    monkeypatch.setattr(linalg, "DEFER_ENTRIES", 1)
    monkeypatch.setattr(linalg, "_core_spare", lambda: True)
    from lstmviz.engine import diagnostics as dg

    done = []

    def slow(m):  # the pool lags behind: parts are still queued when the cancel comes
        time.sleep(0.05)
        done.append(len(m))
        return linalg.spectral_norms(m)

    monkeypatch.setattr(dg, "spectral_norms", slow)
    calls = [0]

    def hook():
        calls[0] += 1
        return calls[0] > 30  # inside the product loop

    with cancel_scope(hook), pytest.raises(Cancelled):
        engine.compute_diagnostics(model, trace, grads)
    deadline = time.monotonic() + 10
    while linalg._pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert linalg._pending == 0
    assert sum(done) < 2 * 60  # of the step and indirect norms, the parts not started dropped
