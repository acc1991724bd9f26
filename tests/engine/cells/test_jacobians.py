"""Per-step Jacobian pieces against finite-difference Jacobians of one step, and the product
convention (prod_block) against finite differences of h_T (or s_T) w.r.t. h_t (s_t)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.cells import run_forward

from .cases import IDS, KIND_CASES, rel_err, setup

EPS = 1e-6


def _dense(jac):
    """(n, S, S) from a StepJacobians, dense or diagonal."""
    if not jac.diagonal:
        return jac.full
    n, S = jac.full.shape
    out = np.zeros((n, S, S), dtype=jac.full.dtype)
    out[:, np.arange(S), np.arange(S)] = jac.full
    return out


def _one_step_fd(kind, params, o, x, state, comps):
    """d(next state comps)/d(state comps) of batch element 0 by central differences.

    sLSTM: m is held fixed, and the outputs c, n are read in the units of the unperturbed
    m_t (c e^(m_t - M)), which is the m-fixed Jacobian the kind reports."""
    H = state[0].shape[1]
    idx = [kind.state.index(c) for c in comps]
    _, base = None, kind.step(params, o, x, state)[0]
    M = base[3][0] if kind.name == "slstm" else None

    def out(st):
        new = kind.step(params, o, x, st)[0]
        vals = [new[k][0] for k in idx]
        if M is not None:
            scale = np.exp(new[3][0] - M)
            vals = [vals[0], vals[1] * scale, vals[2] * scale]
        return np.concatenate(vals)

    S = H * len(comps)
    jac = np.zeros((S, S), dtype=complex if kind.state_dtype is np.complex128 else float)
    for col in range(S):
        k, j = idx[col // H], col % H
        plus = [np.array(s) for s in state]
        minus = [np.array(s) for s in state]
        plus[k][0, j] += EPS
        minus[k][0, j] -= EPS
        jac[:, col] = (out(tuple(plus)) - out(tuple(minus))) / (2 * EPS)
    return jac


@pytest.mark.parametrize(("name", "options"), KIND_CASES, ids=IDS)
def test_step_jacobian_matches_finite_differences(name, options):
    kind, params, xs, state0, _ = setup(name, options, 4, 2, 3, 3)
    fw = run_forward(kind, params, xs, state0, **options)
    jac = kind.jacobian(params, fw.opts, fw.caches(slice(0, 4)))
    H = 3
    full = _dense(jac)
    assert full.shape == (4, H * len(jac.state), H * len(jac.state))
    step_dense = _dense(type(jac)(jac.state, jac.step, jac.step, jac.diagonal))
    np.testing.assert_array_equal(step_dense, full[:, :H, :H])
    for t in range(4):
        prev = state0 if t == 0 else tuple(s[t - 1] for s in fw.states)
        num = _one_step_fd(kind, params, fw.opts, xs[t], prev, jac.state)
        assert rel_err(full[t], num) < 1e-7, t
        if jac.diagonal:  # diagonal kinds must truly be diagonal
            assert np.abs(num - np.diag(np.diag(num))).max() < 1e-9


@pytest.mark.parametrize(("name", "options"), KIND_CASES, ids=IDS)
def test_product_block_is_dhT_dht(name, options):
    """prod_block "h": h->h block of the product of full state Jacobians = dh_T/dh_t (other
    state held at t); "state": the whole product = ds_T/ds_t (the LRU)."""
    T, t = 5, 1
    kind, params, xs, state0, _ = setup(name, options, T, 1, 2, 3)
    fw = run_forward(kind, params, xs, state0, **options)
    full = _dense(kind.jacobian(params, fw.opts, fw.caches(slice(t + 1, T))))
    prod = np.eye(full.shape[1], dtype=full.dtype)
    for k in range(full.shape[0]):
        prod = full[k] @ prod
    H = 3
    block = prod[:H, :H]
    st = [np.array(s[t]) for s in fw.states]
    num = np.zeros((H, H), dtype=block.dtype)
    for j in range(H):
        cols = []
        for sign in (1, -1):
            s = [a.copy() for a in st]
            s[0][0, j] += sign * EPS
            last = run_forward(kind, params, xs[t + 1:], tuple(s), **options).states[0][-1, 0]
            cols.append(last)
        num[:, j] = (cols[0] - cols[1]) / (2 * EPS)
    assert rel_err(block, num) < 1e-7
    assert kind.prod_block == ("state" if name == "lru" else "h")


def test_scaled_blocks_sums_row_scaled_blocks_whatever_the_split():
    """base.scaled_blocks: sum_k diag(terms[k]) W_k (None terms skipped), written into views,
    the same bits for any split of the steps (the one-step norms are computed in pieces)."""
    from lstmviz.engine.cells.base import scaled_blocks

    rng = np.random.default_rng(3)
    n, H, K = 23, 5, 4
    w = rng.standard_normal((K * H, H))
    terms = [rng.standard_normal((n, H)) for _ in range(K)]
    terms[2] = None
    full = np.zeros((n, 2 * H, 2 * H))
    scaled_blocks(w, [terms], [full[:, H:, :H]])
    ref = sum(d[:, :, None] * w[k * H:(k + 1) * H] for k, d in enumerate(terms) if d is not None)
    np.testing.assert_allclose(full[:, H:, :H], ref, rtol=1e-14, atol=1e-14)
    assert not full[:, :H].any() and not full[:, :, H:].any()  # nothing outside the view
    pieces = np.empty((n, H, H))
    for lo, hi in ((0, 1), (1, 4), (4, 17), (17, 23)):
        scaled_blocks(w, [[None if d is None else d[lo:hi] for d in terms]], [pieces[lo:hi]])
    np.testing.assert_array_equal(pieces, full[:, H:, :H])
