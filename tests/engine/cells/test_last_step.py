"""The generic last-step training step equals the existing LSTM/GRU/RNN training kernels and
the runner, for every kind; IRNN is a preset of the rnn."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.cells import PRESETS, get, kinds, last_step_grads, run_backward, run_forward
from lstmviz.engine.training.kernels import loss_and_grads


def _mse(target):
    def loss_fn(h_last):
        d = h_last - target
        return 0.5 * float(np.sum(d * d)), d, "extra"
    return loss_fn


def _case(name, seed, T, B, I, H):
    """(kind, params, xs (T, B, I), target (B, H)) drawn from one seed."""
    rng = np.random.default_rng(seed)
    kind = get(name)
    p = kind.init_params(I, H, rng)
    return kind, p, rng.standard_normal((T, B, I)), rng.standard_normal((B, H))


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_equals_training_kernels(name):
    kind, p, xs, target = _case(name, 0, 12, 5, 3, 4)
    res = last_step_grads(kind, p, xs, _mse(target), **({"activation": "tanh"}
                                                         if name == "rnn" else {}))
    loss, ref = loss_and_grads(p, name, "tanh", xs, _mse(target))
    assert res.loss == pytest.approx(loss, rel=1e-12)
    for k in p:
        np.testing.assert_allclose(res.grads[k], ref.grads[k], rtol=1e-10, atol=1e-12)
    assert res.dh_first_norm == pytest.approx(ref.dh_first_norm, rel=1e-10)
    assert res.dh_last_norm == pytest.approx(ref.dh_last_norm, rel=1e-12)
    if ref.gate is not None:  # lstm forget f, gru update z: the keep gate
        np.testing.assert_allclose(res.keep, ref.gate, rtol=1e-12)
    assert res.extra == "extra"


@pytest.mark.parametrize("name", kinds())
def test_equals_runner_for_every_kind(name):
    kind, p, xs, target = _case(name, 1, 9, 2, 2, 3)
    res = last_step_grads(kind, p, xs, _mse(target))
    fwd = run_forward(kind, p, xs)
    dh = np.zeros(fwd.h.shape)
    dh[-1] = fwd.h[-1] - target
    ref = run_backward(fwd, dh)
    for k in p:
        np.testing.assert_allclose(res.grads[k], ref.dparams[k], rtol=1e-12, atol=1e-14)
    assert (res.keep is None) == (kind.keep is None)


def test_irnn_preset():
    pre = PRESETS["irnn"]
    kind = get(pre.kind)
    p = kind.init_params(2, 4, np.random.default_rng(0), weight_scale=1.0, **pre.init_options)
    np.testing.assert_array_equal(p["weight_hh"], np.eye(4))
    assert kind.make_opts(**pre.options)["activation"] == "relu"
