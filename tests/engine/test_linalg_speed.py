"""The fast paths of lstmviz.engine.linalg (power-of-two scaling, certified block norms of
products, stacks split over threads) against np.linalg.norm(., 2) (an SVD): random stacks,
stacks like the engine's, degenerate cases, extreme scales, and a certificate that never
accepts a wrong value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmviz.engine import linalg

RTOL = 1e-12


def _ref(stack: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(m, 2) for m in stack])


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


def _engine_like(T: int, H: int, norm: float, seed: int):
    """(per-step stack diag(d_t) W with ||W||_2 = norm, d_t = tanh' values in (0, 1]; the
    running products R_k = J_{T-1} ... J_{k+1} kept scaled, as the diagnostics form them)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((H, H))
    w *= norm / np.linalg.norm(w, 2)
    d = 1 - np.tanh(rng.standard_normal((T, H))) ** 2
    jac = d[:, :, None] * w
    prods = np.empty((T, H, H))
    r = np.eye(H)
    for k in range(T - 1, -1, -1):
        prods[k] = r
        r = r @ jac[k]
        r /= np.abs(r).max()
    return jac, prods


@pytest.mark.parametrize("shape", [(7, 5, 5), (9, 3, 8), (9, 8, 3), (40, 64, 64), (3, 1, 1),
                                   (4, 1, 6), (200, 16, 16)])
def test_spectral_norms_random_stacks(shape):
    rng = np.random.default_rng(sum(shape))
    m = rng.standard_normal(shape) * np.exp(3 * rng.standard_normal(shape[0]))[:, None, None]
    np.testing.assert_allclose(_quiet(linalg.spectral_norms, m), _ref(m), rtol=RTOL, atol=0)


@pytest.mark.parametrize("n", [1, 2, 5, 64])
def test_product_norms_random_stacks(n):
    rng = np.random.default_rng(n)
    m = rng.standard_normal((30, n, n))
    np.testing.assert_allclose(_quiet(linalg.product_norms, m), _ref(m), rtol=RTOL, atol=0)


@pytest.mark.parametrize(("H", "norm", "seed"), [(64, 0.5, 0), (64, 1.0, 1), (64, 2.0, 2),
                                                 (16, 1.5, 3), (3, 0.7, 4)])
def test_engine_like_stacks(H, norm, seed):
    jac, prods = _engine_like(200, H, norm, seed)
    np.testing.assert_allclose(_quiet(linalg.spectral_norms, jac), _ref(jac), rtol=RTOL, atol=0)
    linalg.FAST_STATS.update(block=0, lanczos=0, fallback=0)
    out = _quiet(linalg.product_norms, prods)
    np.testing.assert_allclose(out, _ref(prods), rtol=RTOL, atol=0)
    assert linalg.FAST_STATS["block"] + linalg.FAST_STATS["fallback"] == 200
    if H == 64:  # the fast path carries most of a long product
        assert linalg.FAST_STATS["block"] > 100


def _with_singular_values(s: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = s.shape[1]
    u = np.linalg.qr(rng.standard_normal((len(s), n, n)))[0]
    v = np.linalg.qr(rng.standard_normal((len(s), n, n)))[0]
    return (u * s[:, None, :]) @ v.transpose(0, 2, 1)


@pytest.mark.parametrize("fn", [linalg.spectral_norms, linalg.product_norms])
def test_degenerate_stacks(fn):
    n = 6
    s_tie = np.array([[2.0, 2.0, 2.0, 1.0, 0.5, 0.1]])  # a threefold top singular value
    rank1 = np.outer(np.arange(1.0, n + 1), np.cos(np.arange(n)))[None]
    stack = np.concatenate([
        _with_singular_values(s_tie, 0),
        np.linalg.qr(np.random.default_rng(1).standard_normal((1, n, n)))[0] * 3.0,  # all tied
        rank1,
        np.zeros((1, n, n)),
        np.eye(n)[None] * 1e200,
        rank1 * 1e-200,
        np.full((1, n, n), 1e-310),  # subnormal entries: rank one, norm n * 1e-310
        np.eye(n)[None],
    ])
    out = _quiet(fn, stack)
    ref = _ref(stack)
    assert out[3] == 0.0
    np.testing.assert_allclose(out, ref, rtol=RTOL, atol=0)
    assert out[6] == pytest.approx(n * 1e-310, rel=1e-10)


@pytest.mark.parametrize("fn", [linalg.spectral_norms, linalg.product_norms])
def test_non_finite_entries_give_nan_and_leave_the_others_alone(fn):
    rng = np.random.default_rng(5)
    m = rng.standard_normal((6, 4, 4))
    m[1, 2, 3] = np.nan
    m[3, 0, 0] = np.inf
    m[4, 1, 1] = -np.inf
    out = _quiet(fn, m)
    assert np.isnan(out[[1, 3, 4]]).all()
    keep = [0, 2, 5]
    np.testing.assert_allclose(out[keep], _ref(m[keep]), rtol=RTOL, atol=0)
    assert _quiet(fn, np.zeros((0, 4, 4))).shape == (0,)
    assert np.isnan(_quiet(fn, np.full((2, 3, 3), np.nan))).all()


@pytest.mark.parametrize("scale", [1e-200, 1e200, 1e300, 1e-300])
def test_extreme_scales_are_exact(scale):
    jac, prods = _engine_like(40, 8, 1.0, 9)
    for fn, m in ((linalg.spectral_norms, jac), (linalg.product_norms, prods)):
        out = _quiet(fn, m * scale)
        np.testing.assert_allclose(out, _ref(m) * scale, rtol=RTOL, atol=0)


def test_a_stack_mixing_plain_and_rescaled_scales_is_exact():
    """spectral_norms takes the Gram matrices as they are where their largest diagonal entry is
    within 2**+-200 and rescales the others: a stack mixing both gives each matrix's exact
    norm, the same as computed alone, in order."""
    rng = np.random.default_rng(12)
    scales = [1e-120, 1e-61, 1e-59, 1.0, 1e59, 1e61, 1e120, 0.0, 3.0]
    m = np.stack([rng.standard_normal((6, 6)) * s for s in scales])
    out = _quiet(linalg.spectral_norms, m)
    np.testing.assert_allclose(out, _ref(m), rtol=RTOL, atol=0)
    assert out[7] == 0.0
    alone = np.array([_quiet(linalg.spectral_norms, mi[None])[0] for mi in m])
    np.testing.assert_array_equal(out, alone)


def test_a_norm_above_the_largest_float_is_inf_without_a_warning():
    m = np.full((2, 4, 4), 1e308)
    m[1] = np.eye(4)
    for fn in (linalg.spectral_norms, linalg.product_norms):
        out = _quiet(fn, m)
        assert out[0] == np.inf
        assert out[1] == pytest.approx(1.0, rel=RTOL)


def test_h_equal_one():
    m = np.array([[[3.0]], [[-2.0]], [[0.0]], [[1e-305]]])
    for fn in (linalg.spectral_norms, linalg.product_norms):
        np.testing.assert_array_equal(_quiet(fn, m), [3.0, 2.0, 0.0, 1e-305])


def test_threads_give_the_same_values(monkeypatch):
    monkeypatch.setattr(linalg, "_core_spare", lambda: True)
    jac, prods = _engine_like(200, 64, 1.0, 11)
    monkeypatch.setattr(linalg, "THREADS", 1)
    one = (linalg.spectral_norms(jac), linalg.product_norms(prods))
    monkeypatch.setattr(linalg, "THREADS", 2)
    two = (linalg.spectral_norms(jac), linalg.product_norms(prods))
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_split_map_splits_and_concatenates(monkeypatch):
    monkeypatch.setattr(linalg, "THREADS", 2)
    monkeypatch.setattr(linalg, "_SPLIT_ENTRIES", 1)
    monkeypatch.setattr(linalg, "_core_spare", lambda: True)
    seen = []

    def fn(x):
        seen.append(len(x))
        return x[:, 0, 0] * 2

    x = np.arange(7.0)[:, None, None] * np.ones((7, 2, 2))
    np.testing.assert_array_equal(linalg._split_map(fn, x), 2 * np.arange(7.0))
    assert sorted(seen) == [3, 4]
    np.testing.assert_array_equal(linalg._split_map(fn, x, interleave=True), 2 * np.arange(7.0))
    for threads, spare in ((1, True), (2, False)):  # one thread, or no core to spare
        monkeypatch.setattr(linalg, "THREADS", threads)
        monkeypatch.setattr(linalg, "_core_spare", lambda spare=spare: spare)
        seen.clear()
        np.testing.assert_array_equal(linalg._split_map(fn, x), 2 * np.arange(7.0))
        assert seen == [7]


def _threads_on(monkeypatch):
    monkeypatch.setattr(linalg, "THREADS", 2)
    monkeypatch.setattr(linalg, "_SPLIT_ENTRIES", 1)
    monkeypatch.setattr(linalg, "DEFER_ENTRIES", 1)
    monkeypatch.setattr(linalg, "_core_spare", lambda: True)


def test_defer_computes_in_parts_and_gives_the_whole_values(monkeypatch):
    _threads_on(monkeypatch)
    jac, _ = _engine_like(37, 16, 1.0, 3)
    seen = []

    def fn(x):
        seen.append(len(x))
        return linalg.spectral_norms(x)

    job = linalg.defer(fn, jac, parts=5)
    out = job.result()
    np.testing.assert_array_equal(out, linalg.spectral_norms(jac))  # the same values
    np.testing.assert_allclose(out, _ref(jac), rtol=RTOL)
    assert sorted(seen) == [7, 7, 7, 8, 8] and job.result() is out
    assert linalg._pending == 0


def test_defer_reports_adversarial_stacks_as_one_thread_does(monkeypatch):
    """Repeated top singular values, nearly singular, 1e-300 / 1e300 entries, zero, NaN and
    inf matrices spread over the parts: the values of spectral_norms on the whole stack."""
    rng = np.random.default_rng(5)
    q = np.linalg.qr(rng.standard_normal((32, 16, 16)))[0]
    s = np.ones((32, 16))
    s[:, 8:] = rng.uniform(0, 1, (32, 8))  # 8 equal top singular values
    stack = (q * s[:, None, :]) @ np.linalg.qr(rng.standard_normal((32, 16, 16)))[0]
    stack[3] *= 1e-300
    stack[7] *= 1e300
    stack[11, :, 0] = stack[11, :, 1] * (1 + 1e-15)  # nearly singular
    stack[13] = 0.0
    stack[17, 2, 3] = np.nan
    stack[23, 5, 5] = np.inf
    one = _quiet(linalg.spectral_norms, stack)
    _threads_on(monkeypatch)
    two = _quiet(lambda m: linalg.defer(linalg.spectral_norms, m, parts=6).result(), stack)
    np.testing.assert_array_equal(one, two)
    finite = np.isfinite(stack).all(axis=(1, 2))
    np.testing.assert_allclose(two[finite], _ref(stack[finite]), rtol=RTOL)
    assert np.isnan(two[~finite]).all() and two[13] == 0.0


def test_defer_takes_back_parts_the_pool_has_not_started(monkeypatch):
    import threading

    _threads_on(monkeypatch)
    gate = threading.Event()
    where = []

    def fn(x):
        where.append(threading.current_thread().name)
        if threading.current_thread().name.startswith(linalg._POOL_NAME):
            gate.wait(10)  # the pool is busy with the first part
        return x[:, 0, 0] * 2

    x = np.arange(8.0)[:, None, None] * np.ones((8, 2, 2))
    job = linalg.defer(fn, x, parts=4)
    assert linalg._pending == 4
    while not where:  # the pool has started the first part
        threading.Event().wait(0.01)
    # while the pool has jobs, a split runs in the calling thread (it would only wait)
    np.testing.assert_array_equal(linalg._split_map(lambda a: a[:, 0, 0], x), np.arange(8.0))
    threading.Timer(0.2, gate.set).start()
    np.testing.assert_array_equal(job.result(), 2 * np.arange(8.0))
    assert sum(n.startswith(linalg._POOL_NAME) for n in where) == 1  # three taken back
    assert linalg._pending == 0


def test_defer_without_a_spare_core_computes_at_once(monkeypatch):
    _threads_on(monkeypatch)
    monkeypatch.setattr(linalg, "_core_spare", lambda: False)
    calls = []
    job = linalg.defer(lambda a: calls.append(len(a)) or a[:, 0, 0], np.ones((6, 2, 2)))
    assert calls == [6]  # already computed, in one piece
    np.testing.assert_array_equal(job.result(), np.ones(6))
    job.cancel()  # nothing to drop


def test_cancelled_defer_drops_the_parts_not_started(monkeypatch):
    import threading

    _threads_on(monkeypatch)
    gate, started = threading.Event(), threading.Event()
    calls = []

    def fn(x):
        calls.append(len(x))
        started.set()
        gate.wait(10)
        return x[:, 0, 0]

    job = linalg.defer(fn, np.ones((6, 2, 2)), parts=3)
    assert started.wait(10)  # the pool runs the first part
    job.cancel()
    gate.set()
    linalg._submit(lambda: None).result()  # the pool's queue is empty after this
    assert calls == [2] and linalg._pending == 0


@st.composite
def _small_stacks(draw):
    n = draw(st.integers(1, 5))
    N = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["gauss", "ties", "near_ties", "graded"]))
    if kind == "gauss":
        m = rng.standard_normal((N, n, n))
    else:
        s = np.sort(rng.uniform(0.0, 1.0, (N, n)), axis=1)[:, ::-1].copy()
        if kind == "ties":
            s[:, : min(2, n)] = 1.0
        elif kind == "near_ties":
            s[:, 0] = 1.0
            if n > 1:
                s[:, 1] = 1.0 - 10.0 ** -draw(st.integers(3, 14))
        else:
            s = (10.0 ** -draw(st.integers(0, 8))) ** np.arange(n) * np.ones((N, 1))
        m = _with_singular_values(s, seed)
    return m * 10.0 ** draw(st.integers(-250, 250))


@settings(max_examples=150, deadline=None)
@given(_small_stacks(), st.integers(1, 3))
def test_block_bound_never_accepts_a_value_below_the_norm(m, iters):
    """The block bound of `_block_ritz` proves lambda_max <= theta (1 + tol) only when it is
    true (ties, near ties, graded spectra, any scale), and both fast paths give the norm."""
    a, e, finite, nonzero = linalg._pow2_scaled(m)
    a = a[nonzero]
    if a.shape[0] == 0:
        return
    n = a.shape[1]
    k = min(2, n)
    u0 = np.linalg.qr(np.cos(np.arange(n)[:, None] * (1.0 + np.arange(k))))[0]
    with np.errstate(all="ignore"):
        theta, proved, _ = linalg._block_ritz(a, u0, iters)
    lam = np.linalg.eigvalsh(a @ a.transpose(0, 2, 1))[:, -1]
    assert np.all(theta <= lam * (1 + 1e-14))  # a Ritz value is a lower bound
    assert np.all(lam[proved] <= theta[proved] * (1 + linalg.CERT_TOL) * (1 + 1e-14))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (linalg.spectral_norms, linalg.product_norms):
            np.testing.assert_allclose(fn(m), _ref(m), rtol=RTOL, atol=0)


def test_block_bound_proves_separated_products_and_refuses_unseparated_ones():
    """Singular values 1, 0.1, 0.01 ...: proved after two iterations from a poor start;
    1, 0.999, ... (no separation): never proved, whatever the start."""
    n = 32
    sep = _with_singular_values(np.tile(0.1 ** np.arange(n), (5, 1)), 3)
    flat = _with_singular_values(np.tile(0.999 ** np.arange(n), (5, 1)), 4)
    u0 = np.linalg.qr(np.cos(np.arange(n)[:, None] * (1.0 + np.arange(4))))[0]
    with np.errstate(all="ignore"):
        _, proved_sep, _ = linalg._block_ritz(sep, u0, 2)
        _, proved_flat, _ = linalg._block_ritz(flat, u0, 4)
    assert proved_sep.all()
    assert not proved_flat.any()
