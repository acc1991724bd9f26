"""The ported rnn, lstm and gru equal the existing engine (lstmviz.engine.forward/backward and
build_model) to 1e-12: same draws, same forward values and caches, same gradients."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import backward, build_model, forward
from lstmviz.engine.cells import get, run_backward, run_forward

CASES = [
    ("rnn", "tanh", "pytorch", None, 0.0),
    ("rnn", "relu", "xavier", 1.0, 0.0),
    ("rnn", "sigmoid", "orthogonal", 1.3, 0.0),
    ("lstm", "tanh", "pytorch", None, 1.0),
    ("lstm", "tanh", "xavier", 0.8, 0.0),
    ("gru", "tanh", "pytorch", None, 0.0),
    ("gru", "tanh", "orthogonal", 1.1, 0.0),
]


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "act", "init", "scale", "fb"), CASES)
@pytest.mark.parametrize(("T", "B"), [(9, 3), (1, 1)])
def test_equal_to_engine(name, act, init, scale, fb, T, B):
    I, H = 3, 5
    model = build_model(name, I, H, seed=4, activation=act, init=init, weight_scale=scale,
                        forget_bias=fb)
    kind = get(name)
    opts = {"init": init, "weight_scale": scale}
    if name == "lstm":
        opts["forget_bias"] = fb
    params = kind.init_params(I, H, np.random.default_rng(4), **opts)
    for k, v in model.params.items():
        np.testing.assert_array_equal(params[k], v)
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((T, B, I))
    state0 = tuple(rng.standard_normal((B, H)) for _ in kind.state)
    dh = rng.standard_normal((T, B, H))
    options = {"activation": act} if name == "rnn" else {}
    tr = forward(model, xs, state0)
    fw = run_forward(kind, model.params, xs, state0, **options)
    _close(fw.h, tr.h)
    if kind.has_cell:
        _close(fw.states[1], tr.c)
    assert set(fw.gates) == set(tr.gates)
    for k, v in tr.gates.items():
        _close(fw.gates[k], v)
    for k, v in tr.extras.items():
        _close(fw.extras[k], v)
    g = backward(model, tr, dh)
    gb = run_backward(fw, dh)
    for k, v in g.params.items():
        _close(gb.dparams[k], v)
    _close(gb.dstates[0], g.h)
    _close(gb.dx, g.x)
    _close(gb.dstate0[0], g.h0)
    if kind.has_cell:
        _close(gb.dstates[1], g.c)
        _close(gb.dstate0[1], g.c0)
    _close(gb.dgh, g.dgates_hh)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_step_dparams_equal_model_step_back(name):
    """CellKind.step_dparams (the app's step-back) equals Model.step_back."""
    model = build_model(name, 3, 4, seed=1)
    kind = get(name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3))
    state = tuple(rng.standard_normal((2, 4)) for _ in kind.state)
    dstate = tuple(rng.standard_normal((2, 4)) for _ in kind.state)
    o = kind.make_opts(**({"activation": "tanh"} if name == "rnn" else {}))
    _, cache = kind.step(model.params, o, x, state)
    _, mcache = model.step(x, state)
    dprev, dx, dp = kind.step_dparams(model.params, o, dstate, cache)
    mprev, mdx, mdp = model.step_back(dstate, mcache)
    for a, b in zip(dprev, mprev, strict=True):
        _close(a, b)
    _close(dx, mdx)
    for k in mdp:
        _close(dp[k], mdp[k])
