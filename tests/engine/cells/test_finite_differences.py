"""Every kind's BPTT against central finite differences: every parameter, dx, the initial
state (every component; real and imaginary parts of the LRU's s), T=1 and H=1 with B>1."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.cells import run_backward, run_forward

from ..helpers import numeric_grad
from .cases import IDS, KIND_CASES, setup
from .cases import rel_err as rel_error

SHAPES = [(5, 2, 3, 4), (1, 3, 2, 1), (4, 2, 1, 1)]


@pytest.mark.parametrize(("name", "options"), KIND_CASES, ids=IDS)
@pytest.mark.parametrize(("T", "B", "I", "H"), SHAPES)
@pytest.mark.parametrize("scan", [True, False])
def test_backward_matches_finite_differences(name, options, T, B, I, H, scan):
    kind, params, xs, state0, wh = setup(name, options, T, B, I, H)

    def loss(params=params, xs=xs, state0=state0):
        return float(np.sum(wh * run_forward(kind, params, xs, state0, scan=scan,
                                             **options).h))

    g = run_backward(run_forward(kind, params, xs, state0, scan=scan, **options), wh, scan=scan)
    assert set(g.dparams) == set(params)
    for pname, p in params.items():

        def f(v, pname=pname):
            return loss(params={**params, pname: v})

        num = numeric_grad(f, p).reshape(p.shape)
        assert g.dparams[pname].shape == p.shape
        assert rel_error(g.dparams[pname], num) < 1e-6, pname
    num_x = numeric_grad(lambda v: loss(xs=v), xs).reshape(xs.shape)
    assert rel_error(g.dx, num_x) < 1e-6
    for k, s0 in enumerate(state0):

        def fs(v, k=k, s0=s0, imag=False):
            s = list(state0)
            s[k] = s0.real + 1j * v if imag else v + (1j * s0.imag if np.iscomplexobj(s0) else 0)
            return loss(state0=tuple(s))

        num = numeric_grad(fs, s0.real).reshape(s0.shape)
        if np.iscomplexobj(s0):
            num = num + 1j * numeric_grad(lambda v, k=k: fs(v, k, imag=True),
                                          s0.imag).reshape(s0.shape)
        assert rel_error(g.dstate0[k], num) < 1e-6, kind.state[k]


@pytest.mark.parametrize(("name", "options"), KIND_CASES, ids=IDS)
def test_total_state_gradient_is_dL_dstate_t(name, options):
    """dstates[k][t] = dL/d(state_t) total: restart the run from state_t and differentiate."""
    kind, params, xs, state0, wh = setup(name, options, 4, 2, 2, 3)
    fwd = run_forward(kind, params, xs, state0, **options)
    g = run_backward(fwd, wh)
    t = 1
    st = tuple(s[t] for s in fwd.states)

    def loss_from(state):
        return float(np.sum(wh[t + 1:] * run_forward(kind, params, xs[t + 1:], state,
                                                     **options).h))

    # h_t itself is also scored: add its direct term for the h component
    num = numeric_grad(lambda v: loss_from((v, *st[1:])), st[0].real).reshape(st[0].shape)
    if kind.state[0] == "h":
        num = num + wh[t]
        if kind.has_cell:  # the recorded c total includes the path through h_t: check h only
            pass
        assert rel_error(g.dstates[0][t], num) < 1e-6
    else:  # LRU: d/dRe(s_t) of the rest plus the direct term, since h_t = Re s_t
        assert rel_error(g.dstates[0][t].real, num + wh[t]) < 1e-6


def test_lstm_direct_cell_loss_gradient():
    """run_backward's dstate={"c": ...} adds a direct loss on c_t (the unroller's dc)."""
    kind, params, xs, state0, wh = setup("lstm", {}, 3, 2, 2, 3)
    wc = np.random.default_rng(5).standard_normal(wh.shape)

    def loss(p):
        fw = run_forward(kind, p, xs, state0)
        return float(np.sum(wh * fw.h) + np.sum(wc * fw.states[1]))

    g = run_backward(run_forward(kind, params, xs, state0), wh, {"c": wc})
    for pname, p in params.items():
        num = numeric_grad(lambda v, pname=pname: loss({**params, pname: v}), p)
        assert rel_error(g.dparams[pname], num.reshape(p.shape)) < 1e-6
