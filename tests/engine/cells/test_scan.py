"""The scans of minGRU, minLSTM and LRU equal their step loops to 1e-12, forward and backward,
including long runs whose products of keep factors underflow float64."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.cells import get, run_backward, run_forward
from lstmviz.engine.cells.scan import LOOP_ABOVE, linear_scan, reverse_scan

from .cases import random_state, rel_err

SCAN_KINDS = ["mingru", "minlstm", "lru"]


def _compare(a, b):
    assert a.dtype == b.dtype
    assert rel_err(a, b) < 1e-12
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("name", SCAN_KINDS)
@pytest.mark.parametrize(("T", "B"), [(1, 1), (2, 3), (7, 2), (100, 2), (1000, 1)])
def test_scan_equals_loop(name, T, B):
    kind = get(name)
    assert kind.scan is not None
    I, H = 3, 4
    rng = np.random.default_rng(T)
    params = kind.init_params(I, H, rng)
    xs = rng.standard_normal((T, B, I))
    state0 = random_state(kind, B, H, rng)
    dh = rng.standard_normal((T, B, H))
    fs = run_forward(kind, params, xs, state0, scan=True)
    fl = run_forward(kind, params, xs, state0, scan=False)
    for a, b in zip(fs.states, fl.states, strict=True):
        _compare(a, b)
    for k in kind.extras:
        _compare(fs.extras[k], fl.extras[k])
    bs = run_backward(fs, dh, scan=True)
    bl = run_backward(fl, dh, scan=False)
    for k in params:
        _compare(bs.dparams[k], bl.dparams[k])
    _compare(bs.dx, bl.dx)
    for a, b in zip(bs.dstates + bs.dstate0, bl.dstates + bl.dstate0, strict=True):
        _compare(a, b)


def test_scan_survives_underflowing_products():
    """keep ~ 1e-30 per step: products of keeps underflow to 0 after ~10 steps; the scan
    still equals the loop (no division, nothing amplified) and warns about nothing."""
    kind = get("mingru")
    T, B, I, H = 300, 2, 2, 3
    rng = np.random.default_rng(0)
    params = kind.init_params(I, H, rng)
    params["bias_ih"][:H] = 69.0  # z = sigma(69): keep = 1 - z ~ 1e-30
    xs = rng.standard_normal((T, B, I))
    dh = rng.standard_normal((T, B, H))
    fs, fl = (run_forward(kind, params, xs, scan=s) for s in (True, False))
    _compare(fs.h, fl.h)
    bs, bl = run_backward(fs, dh, scan=True), run_backward(fl, dh, scan=False)
    for k in params:
        _compare(bs.dparams[k], bl.dparams[k])


def test_linear_scan_and_reverse_scan_against_loops():
    rng = np.random.default_rng(1)
    T = 37
    a = rng.uniform(-1.2, 1.2, size=(T, 2, 3)) + 1j * rng.uniform(-0.5, 0.5, size=(T, 2, 3))
    b = rng.standard_normal((T, 2, 3)) + 1j * rng.standard_normal((T, 2, 3))
    h0 = rng.standard_normal((2, 3)) + 0j
    h, ref = h0, np.empty_like(b)
    for t in range(T):
        h = a[t] * h + b[t]
        ref[t] = h
    for blocked in (None, True, False):
        assert rel_err(linear_scan(a, b, h0, blocked=blocked), ref) < 1e-13
    # a constant in time (the LRU's lambda) and a per-step slice above LOOP_ABOVE
    a1 = a[0]
    h, ref1 = h0, np.empty_like(b)
    for t in range(T):
        h = a1 * h + b[t]
        ref1[t] = h
    for blocked in (None, True, False):
        assert rel_err(linear_scan(a1, b, h0, blocked=blocked), ref1) < 1e-13
    g1, d1 = reverse_scan(a1, b)
    g1_ref, g = np.empty_like(b), np.zeros((2, 3), complex)
    for t in range(T - 1, -1, -1):
        g = b[t] + np.conj(a1) * g
        g1_ref[t] = g
    assert rel_err(g1, g1_ref) < 1e-13 and rel_err(d1, np.conj(a1) * g1_ref[0]) < 1e-13
    big_a, big_b = rng.uniform(0, 1, (50, 600)), rng.standard_normal((50, 600))
    assert big_b[0].size > LOOP_ABOVE
    h, ref2 = np.zeros(600), np.empty_like(big_b)
    for t in range(50):
        h = big_a[t] * h + big_b[t]
        ref2[t] = h
    for blocked in (None, True):
        assert rel_err(linear_scan(big_a, big_b, np.zeros(600), blocked=blocked), ref2) < 1e-13
    g_ref, g = np.empty_like(b), np.zeros((2, 3), complex)
    for t in range(T - 1, -1, -1):
        g = b[t] + (np.conj(a[t + 1]) * g if t + 1 < T else 0)
        g_ref[t] = g
    g, dh0 = reverse_scan(a, b)
    assert rel_err(g, g_ref) < 1e-13
    assert rel_err(dh0, np.conj(a[0]) * g_ref[0]) < 1e-13
