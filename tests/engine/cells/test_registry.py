"""The registry: course order, unknown kinds are errors (never a fallback), and a dummy kind
registered here runs through the generic runner without touching any other file."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from lstmviz.engine import EngineError
from lstmviz.engine.cells import (
    BUILTIN,
    CellKind,
    StepGrad,
    StepJacobians,
    check_params,
    get,
    kinds,
    register,
    run_backward,
    run_forward,
    unregister,
)
from lstmviz.engine.cells.base import projection_grads

from ..helpers import numeric_grad, rel_error


def test_course_order():
    assert BUILTIN == ("rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru", "slstm")


@pytest.mark.parametrize("bad", ["RNN", "transformer", "", None, 3])
def test_unknown_kind_is_an_error(bad):
    with pytest.raises(EngineError, match="kind: expected one of 'rnn'"):
        get(bad)
    with pytest.raises(EngineError):
        run_forward(bad, {}, np.zeros((1, 1, 1)))


def test_register_rejects_duplicates_and_non_kinds():
    with pytest.raises(EngineError, match="already registered"):
        register(get("rnn"))
    with pytest.raises(EngineError, match="CellKind"):
        register(object())
    with pytest.raises(EngineError, match="built-in"):
        unregister("lstm")


class LeakyCache(NamedTuple):
    x: np.ndarray
    h_prev: np.ndarray
    a: np.ndarray


def _leaky_kind() -> CellKind:
    """h_t = a * h_{t-1} + W x_t + b, a = sigma(alpha) (H,): a kind defined only here."""

    def step(p, o, x, state, xproj=None):
        (h_prev,) = state
        if xproj is None:
            xproj = x @ p["weight_ih"].T + p["bias_ih"]
        a = np.broadcast_to(1 / (1 + np.exp(-p["alpha"])), h_prev.shape)
        return (a * h_prev + xproj,), LeakyCache(x, h_prev, a)

    def step_back(p, o, dstate, cache):
        (dh,) = dstate
        return (dh * cache.a,), StepGrad(dh, None, {"alpha": dh * cache.h_prev})

    def param_grads(p, xs, prev, dgi, dgh, other):
        out = projection_grads(kind, p, xs, prev, dgi, dgh)
        a = 1 / (1 + np.exp(-p["alpha"]))
        out["alpha"] = other["alpha"].sum(axis=(0, 1)) * a * (1 - a)
        return out

    def init(I, H, rng, **options):
        return {"weight_ih": rng.standard_normal((H, I)), "bias_ih": np.zeros(H),
                "alpha": rng.standard_normal(H)}

    kind = CellKind(
        name="leaky", label="Leaky", colour="leaky", summary="h_t = a h_{t-1} + W x_t + b",
        param_shapes=lambda I, H: {"weight_ih": (H, I), "bias_ih": (H,), "alpha": (H,)},
        init_params=init, inits=("normal",), init_options=(), weight_scale=None,
        options=(), resolve=lambda o: {}, state=("h",), Cache=LeakyCache, extras=("a",),
        step=step, step_back=step_back, recurrent=None, param_grads=param_grads,
        jacobian=lambda p, o, c: StepJacobians(("h",), c.a, c.a, diagonal=True),
        prod_block="h", jacobian_note="diag(a)", sigma_max=lambda p: None,
        bound_applies=False, bound_note="no W_hh", gates=(), keep=None, keep_note="no gate",
    )
    return kind


@pytest.fixture
def leaky():
    kind = register(_leaky_kind())
    yield kind
    unregister("leaky")


def test_dummy_kind_runs_through_the_runner(leaky):
    assert kinds()[-1] == "leaky" and get("leaky") is leaky
    T, B, I, H = 4, 2, 3, 2
    rng = np.random.default_rng(0)
    p = check_params(leaky, leaky.init_params(I, H, rng), I, H)
    xs = rng.standard_normal((T, B, I))
    wh = rng.standard_normal((T, B, H))
    g = run_backward(run_forward("leaky", p, xs), wh)
    for name, v in p.items():

        def f(a, name=name):
            return float(np.sum(wh * run_forward("leaky", {**p, name: a}, xs).h))

        assert rel_error(g.dparams[name], numeric_grad(f, v).reshape(v.shape)) < 1e-6, name
    _, dx, dp = leaky.step_dparams(p, {}, (wh[0],), run_forward("leaky", p, xs).cache(0))
    assert set(dp) == set(p)


def test_check_params_names_the_problem():
    kind = get("mingru")
    with pytest.raises(EngineError, match="missing"):
        check_params(kind, {"weight_ih": np.zeros((4, 1))}, 1, 2)
    with pytest.raises(EngineError, match=r"expected shape \(4, 1\)"):
        check_params(kind, {"weight_ih": np.zeros((4, 2)), "bias_ih": np.zeros(4)}, 1, 2)
    out = check_params(kind, {"weight_ih": np.zeros((4, 1), int), "bias_ih": np.zeros(4)}, 1, 2)
    assert out["weight_ih"].dtype == np.float64 and not out["weight_ih"].flags.writeable
