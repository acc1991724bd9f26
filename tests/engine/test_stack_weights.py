"""Weight files with several layers (PyTorch's _l0 … _l{L-1} keys) load as a StackedModel."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import WeightFileError, build_readout, load_weights, save_weights
from lstmviz.engine.stack import StackedModel, build_stack


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize(("kind", "L"), [("lstm", 2), ("gru", 3), ("rnn", 4)])
def test_stacked_round_trip(tmp_path, suffix, kind, L):
    stack = build_stack(kind, 2, 5, num_layers=L, seed=9)
    readout = build_readout(5, 1, seed=1)
    path = tmp_path / f"m{suffix}"
    save_weights(path, stack, readout)
    got, ro = load_weights(path)
    assert isinstance(got, StackedModel) and got.num_layers == L and got.kind == kind
    assert got.input_size == 2 and got.hidden_size == 5
    assert set(got.params) == set(stack.params)
    for k, v in stack.params.items():
        np.testing.assert_array_equal(got.params[k], v)
    np.testing.assert_array_equal(ro.weight, readout.weight)


def test_safetensors_state_dict_of_two_layers_without_metadata(tmp_path):
    from safetensors.numpy import save_file

    stack = build_stack("gru", 3, 4, num_layers=2, seed=1)
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in stack.params.items()},
              str(tmp_path / "sd.safetensors"))
    got, ro = load_weights(tmp_path / "sd.safetensors")
    assert ro is None and isinstance(got, StackedModel)
    assert got.kind == "gru" and got.num_layers == 2  # inferred from the keys and shapes
    np.testing.assert_allclose(got.params["weight_hh_l1"], stack.params["weight_hh_l1"],
                               rtol=1e-7)


def test_missing_key_of_an_upper_layer_is_named(tmp_path):
    stack = build_stack("lstm", 2, 3, num_layers=2, seed=0)
    sd = dict(stack.params)
    del sd["bias_hh_l1"]
    np.savez(tmp_path / "m.npz", **sd)
    with pytest.raises(WeightFileError, match=r"m.npz: missing key bias_hh_l1"):
        load_weights(tmp_path / "m.npz")
    five = {f"{k[:-1]}{l}": v for l in range(5) for k, v in stack.params.items()
            if k.endswith("_l1")}
    np.savez(tmp_path / "five.npz", **{**five, **{k: v for k, v in stack.params.items()
                                                  if k.endswith("_l0")}})
    with pytest.raises(WeightFileError, match="holds 5 layers .*at most 4"):
        load_weights(tmp_path / "five.npz")
