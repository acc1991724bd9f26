"""Losses and readout gradients against finite differences; end-to-end through backward."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import (
    EngineError,
    Readout,
    backward,
    build_model,
    build_readout,
    forward,
    loss_and_grad,
)

from .helpers import numeric_grad, rel_error


def _targets(loss, where, T, B, O, rng):
    lead = (B,) if where == "last" else (T, B)
    if loss == "mse":
        return rng.standard_normal((*lead, O))
    return rng.integers(0, O, size=lead)


@pytest.mark.parametrize("loss", ["mse", "xent"])
@pytest.mark.parametrize("where", ["last", "every"])
@pytest.mark.parametrize(("T", "B", "H", "O"), [(4, 3, 5, 2), (1, 1, 1, 3), (3, 2, 2, 1)])
def test_loss_gradients_match_finite_differences(loss, where, T, B, H, O):
    rng = np.random.default_rng(T * 100 + B * 10 + H)
    ro = build_readout(H, O, seed=3)
    h = rng.standard_normal((T, B, H))
    tg = _targets(loss, where, T, B, O, rng)
    val, dh, dro = loss_and_grad(ro, h, tg, loss=loss, where=where)

    def f_h(v):
        return loss_and_grad(ro, v, tg, loss=loss, where=where)[0]

    assert rel_error(dh, numeric_grad(f_h, h).reshape(h.shape)) < 1e-6
    num_w = numeric_grad(
        lambda w: loss_and_grad(Readout(w, ro.bias), h, tg, loss=loss, where=where)[0], ro.weight
    )
    assert rel_error(dro["weight"], num_w.reshape(ro.weight.shape)) < 1e-6
    num_b = numeric_grad(
        lambda b: loss_and_grad(Readout(ro.weight, b), h, tg, loss=loss, where=where)[0], ro.bias
    )
    assert rel_error(dro["bias"], num_b) < 1e-6
    if where == "last":
        assert np.all(dh[:-1] == 0)


def test_mse_is_mean_over_all_elements():
    ro = Readout(np.eye(2), np.zeros(2))
    h = np.array([[[1.0, 2.0]], [[3.0, 5.0]]])  # T=2, B=1
    val, _, _ = loss_and_grad(ro, h, np.zeros((1, 2)), loss="mse", where="last")
    assert val == pytest.approx((9 + 25) / 2)
    val, _, _ = loss_and_grad(ro, h, np.zeros((2, 1, 2)), loss="mse", where="every")
    assert val == pytest.approx((1 + 4 + 9 + 25) / 4)


def test_xent_is_stable_for_huge_logits():
    ro = Readout(np.array([[1e4], [-1e4]]), np.zeros(2))
    h = np.ones((1, 2, 1))
    val, dh, _ = loss_and_grad(ro, h, np.array([1, 0]), loss="xent")
    assert np.isfinite(val)
    assert val == pytest.approx(1e4)  # second element: logp = 0; first: -2e4 -> mean 1e4
    assert np.all(np.isfinite(dh))


@pytest.mark.parametrize(
    ("kind", "loss", "where"), [("lstm", "xent", "last"), ("gru", "mse", "every")]
)
def test_end_to_end_gradient_through_model_and_readout(kind, loss, where):
    rng = np.random.default_rng(5)
    T, B, I, H, O = 4, 2, 3, 3, 3
    model = build_model(kind, I, H, seed=1)
    ro = build_readout(H, O, seed=2)
    xs = rng.standard_normal((T, B, I))
    tg = _targets(loss, where, T, B, O, rng)
    _, dh, _ = loss_and_grad(ro, forward(model, xs).h, tg, loss=loss, where=where)
    g = backward(model, forward(model, xs), dh)

    def f(v):
        params = dict(model.params, weight_hh=v)
        tr = forward(model.with_params(params), xs)
        return loss_and_grad(ro, tr.h, tg, loss=loss, where=where)[0]

    num = numeric_grad(f, model.params["weight_hh"]).reshape(model.params["weight_hh"].shape)
    assert rel_error(g.params["weight_hh"], num) < 1e-6


def test_bad_loss_inputs():
    ro = build_readout(3, 2)
    h = np.zeros((4, 2, 3))
    with pytest.raises(
        EngineError, match=r"targets: expected shape \(2, 2\) for mse, got \(3, 2\)"
    ):
        loss_and_grad(ro, h, np.zeros((3, 2)))
    with pytest.raises(EngineError, match="targets: expected integer class indices"):
        loss_and_grad(ro, h, np.zeros(2), loss="xent")
    with pytest.raises(EngineError, match=r"targets: expected class indices in \[0, 1\]"):
        loss_and_grad(ro, h, np.array([0, 2]), loss="xent")
    with pytest.raises(
        EngineError, match=r"h: expected shape \(T, B, 3\) or \(T, 3\), got \(4, 2\)"
    ):
        loss_and_grad(ro, np.zeros((4, 2)), np.zeros((1, 2)))
    with pytest.raises(EngineError, match="loss: expected one of 'mse', 'xent', got 'l1'"):
        loss_and_grad(ro, h, np.zeros((2, 2)), loss="l1")
    with pytest.raises(EngineError, match="where: expected one of 'last', 'every'"):
        loss_and_grad(ro, h, np.zeros((2, 2)), where="first")
    with pytest.raises(EngineError, match=r"readout.bias: expected shape \(2,\), got \(3,\)"):
        Readout(np.zeros((2, 3)), np.zeros(3))
