"""build_model: shapes, initialisation schemes, weight_scale, forget_bias, validation."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import ACTIVATIONS, KINDS, EngineError, build_model, cells


def _cases():
    return [(k, init) for k in KINDS for init in cells.get(k).inits]


@pytest.mark.parametrize(("kind", "init"), _cases())
def test_shapes_and_reproducibility(kind, init):
    spec = cells.get(kind)
    m = build_model(kind, 3, 5, seed=4, init=init)
    shapes = spec.param_shapes(3, 5)
    assert {k: v.shape for k, v in m.params.items()} == shapes
    assert m.n_params == sum(int(np.prod(v)) for v in shapes.values())
    again = build_model(kind, 3, 5, seed=4, init=init)
    for k in m.params:
        np.testing.assert_array_equal(m.params[k], again.params[k])
    other = build_model(kind, 3, 5, seed=5, init=init)
    assert any(not np.array_equal(m.params[k], other.params[k]) for k in m.params)


def test_pytorch_init_range_and_zero_biases_elsewhere():
    m = build_model("gru", 2, 16, init="pytorch")
    for a in m.params.values():
        assert np.abs(a).max() <= 0.25
        assert np.abs(a).max() > 0.2
    for init in ("xavier", "orthogonal"):
        m = build_model("lstm", 2, 16, init=init)
        assert np.all(m.params["bias_ih"] == 0)
        assert np.all(m.params["bias_hh"] == 0)


def test_orthogonal_blocks_are_orthogonal():
    m = build_model("lstm", 2, 6, init="orthogonal", seed=3)
    for k in range(4):
        block = m.params["weight_hh"][k * 6 : (k + 1) * 6]
        np.testing.assert_allclose(block @ block.T, np.eye(6), atol=1e-12)


@pytest.mark.parametrize("kind", [k for k in KINDS if cells.get(k).weight_scale is not None])
def test_weight_scale_sets_each_block_sigma_max(kind):
    m = build_model(kind, 2, 7, weight_scale=0.8, seed=1)
    w = m.params["weight_hh"]
    blocks = w.reshape(-1, 7, 7) if w.ndim == 2 else [np.diag(w)]  # IndRNN: u is diag(u)
    for block in blocks:
        assert np.linalg.norm(block, 2) == pytest.approx(0.8, rel=1e-12)


@pytest.mark.parametrize("kind", [k for k in KINDS if cells.get(k).weight_scale is None])
def test_weight_scale_is_an_error_where_it_means_nothing(kind):
    with pytest.raises(EngineError, match=f"weight_scale: does not apply to the .* \\({kind}\\)"):
        build_model(kind, 2, 7, weight_scale=0.8)


def test_forget_bias_is_effective_forget_bias():
    m = build_model("lstm", 2, 3, forget_bias=5.0)
    np.testing.assert_array_equal(m.params["bias_ih"][3:6], 5.0)
    np.testing.assert_array_equal(m.params["bias_hh"][3:6], 0.0)
    assert np.all(m.params["bias_ih"][:3] != 5.0)


def test_with_params_validates_and_copies():
    m = build_model("rnn", 2, 3)
    w = np.ones((3, 3))
    m2 = m.with_params({**m.params, "weight_hh": w})
    w[0, 0] = 7
    assert m2.params["weight_hh"][0, 0] == 1
    with pytest.raises(
        EngineError, match=r"params\['weight_hh'\] \(rnn\): expected shape \(3, 3\), got \(3, 4\)"
    ):
        m.with_params({**m.params, "weight_hh": np.ones((3, 4))})
    with pytest.raises(EngineError, match=r"params \(rnn\): expected keys.*missing"):
        m.with_params({"weight_hh": w})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "transformer"},
         "kind: expected one of 'rnn', 'lstm', 'gru', .*got 'transformer'"),
        ({"activation": "gelu"}, "activation: expected one of 'tanh', 'relu', 'sigmoid'"),
        ({"init": "he"},
         "rnn: init: expected one of 'pytorch', 'xavier', 'orthogonal', 'identity', got 'he'"),
        ({"input_size": 0}, "input_size: expected an integer >= 1, got 0"),
        ({"hidden_size": 2.5}, "hidden_size: expected an integer >= 1, got 2.5"),
        ({"weight_scale": -1.0}, "weight_scale: expected a finite number > 0, got -1.0"),
        ({"kind": "lstm", "forget_bias": float("nan")},
         "forget_bias: expected a finite number, got nan"),
        ({"forget_bias": 1.0}, r"forget_bias: does not apply to the RNN \(rnn\)"),
    ],
)
def test_bad_build_arguments(kwargs, message):
    args = {"kind": "rnn", "input_size": 2, "hidden_size": 3, **kwargs}
    with pytest.raises(EngineError, match=message):
        build_model(args.pop("kind"), args.pop("input_size"), args.pop("hidden_size"), **args)


def test_all_activations_build():
    for act in ACTIVATIONS:
        assert build_model("rnn", 1, 1, activation=act).activation == act
