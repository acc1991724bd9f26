"""Training stacked models (TrainConfig.num_layers, `lstmviz train --num-layers`): the stacked
training path equals the engine's stacked BPTT (engine.stack) and central differences for
every kind, a Trainer of two layers learns, saves PyTorch's _l<k> keys and resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import build_readout, cells, load_weights, loss_and_grad, make_task
from lstmviz.engine.stack import StackedModel, build_stack, stack_backward, stack_forward
from lstmviz.engine.training.kernels import loss_and_grads
from lstmviz.engine.training.trainer import TrainConfig, Trainer

from .helpers import numeric_grad, rel_error


def _last(readout, targets):
    def fn(h_last):
        value, d, extra = loss_and_grad(readout, h_last[None], targets)
        return value, d[0], extra
    return fn


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("kind", cells.kinds())
def test_stacked_training_step_matches_engine_stack_and_finite_differences(kind, L):
    stack = build_stack(kind, 2, 3, num_layers=L, seed=3)
    readout = build_readout(3, 1, seed=2)
    task = make_task("adding", 5, 2, seed=4)
    trace = stack_forward(stack, task.xs)
    loss, dh, _ = loss_and_grad(readout, trace.h, task.targets)
    ref = stack_backward(stack, trace, dh)
    top = stack.layers[-1]
    got_loss, res = loss_and_grads(dict(stack.params), kind, top.activation, task.xs,
                                   _last(readout, task.targets), top.options, L)
    assert got_loss == pytest.approx(loss, rel=1e-12)
    assert set(res.grads) == set(stack.params)
    for k, want in ref.params.items():
        np.testing.assert_allclose(res.grads[k], want, rtol=1e-9, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(res.h_last, trace.h[-1], rtol=1e-12, atol=1e-15)
    if np.dtype(cells.get(kind).state_dtype).kind != "c":  # the LRU's norm is of complex ds,
        # as cells.last_step_grads takes it for one layer; Grads.h is its real part
        assert res.dh_first_norm == pytest.approx(np.linalg.norm(ref.layers[-1].h[0]),
                                                  rel=1e-9)
    # every layer's parameters against central differences of the loss
    for k, v in stack.params.items():

        def f(a, k=k):
            m = stack.with_params({**stack.params, k: a})
            return loss_and_grad(readout, stack_forward(m, task.xs).h, task.targets)[0]

        assert rel_error(res.grads[k], numeric_grad(f, v).reshape(v.shape)) < 1e-6, k


def test_a_two_layer_lstm_trains_saves_pytorch_keys_and_resumes(tmp_path):
    cfg = TrainConfig(length=8, hidden_size=6, batch_size=16, num_layers=2, seed=1)
    trainer = Trainer(cfg)
    assert isinstance(trainer.model, StackedModel) and trainer.model.num_layers == 2
    first = trainer.evaluate(200).mse
    metrics = list(trainer.run(iterations=150))
    assert trainer.evaluate(200).mse < 0.5 * first  # it learns
    assert metrics[-1].forget_gate is not None and np.isfinite(metrics[-1].grad_ratio)
    path = tmp_path / "w2.npz"
    trainer.save(path)
    with np.load(path) as data:
        keys = set(data.files)
    assert {"weight_ih_l0", "weight_hh_l1", "bias_ih_l1", "bias_hh_l0"} <= keys
    assert not any(k in keys for k in ("weight_ih", "weight_hh_l2"))
    model, readout = load_weights(path)
    assert isinstance(model, StackedModel) and model.num_layers == 2
    for k, v in trainer.model.params.items():
        np.testing.assert_array_equal(model.params[k], v)
    resumed = Trainer.load(path)
    assert resumed.config.num_layers == 2
    a = [m.loss for m in trainer.run(iterations=3)]
    b = [m.loss for m in resumed.run(iterations=3)]
    assert a == b


def test_num_layers_is_checked():
    with pytest.raises(Exception, match=r"num_layers: expected an integer from 1 to 4, got 5"):
        TrainConfig(num_layers=5)
    with pytest.raises(Exception, match=r"model: expected 2 layer\(s\) \(num_layers\), got 1"):
        Trainer(TrainConfig(num_layers=2, hidden_size=4),
                model=build_stack("lstm", 2, 4, num_layers=1).layers[0])
