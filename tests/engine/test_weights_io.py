"""Weight files: round trips with and without the _l0 suffix, kind inference, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import (
    WeightFileError,
    build_model,
    build_readout,
    load_weights,
    save_weights,
)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "slstm"])
def test_round_trip_with_metadata_and_readout(tmp_path, kind):
    model = build_model(kind, 3, 4, seed=2, activation="sigmoid" if kind == "rnn" else "tanh")
    ro = build_readout(4, 2, seed=1)
    path = tmp_path / "w.npz"
    save_weights(path, model, ro)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]  # no temp file left behind
    loaded, lro = load_weights(path)
    assert (loaded.kind, loaded.activation) == (kind, model.activation)
    for k in model.params:
        np.testing.assert_array_equal(loaded.params[k], model.params[k])
    np.testing.assert_array_equal(lro.weight, ro.weight)
    np.testing.assert_array_equal(lro.bias, ro.bias)
    with np.load(path) as data:
        assert {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"} <= set(data.files)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])  # the shapes that name the kind
@pytest.mark.parametrize("suffix", ["", "_l0"])
def test_plain_state_dict_files_infer_the_kind(tmp_path, kind, suffix):
    model = build_model(kind, 2, 5, seed=3)
    path = tmp_path / "sd.npz"
    np.savez(path, **{f"{k}{suffix}": v.astype(np.float32) for k, v in model.params.items()})
    loaded, ro = load_weights(path)
    assert loaded.kind == kind
    assert ro is None
    assert loaded.params["weight_hh"].dtype == np.float64
    np.testing.assert_allclose(loaded.params["weight_hh"], model.params["weight_hh"], rtol=1e-6)
    again, _ = load_weights(path, model=model)
    assert again.kind == kind


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(path, build_model("rnn", 1, 2, seed=0))
    save_weights(path, build_model("gru", 1, 2, seed=0))
    assert load_weights(path)[0].kind == "gru"


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_errors_name_file_key_and_shapes(tmp_path):
    m = build_model("lstm", 3, 4)
    good = {f"{k}_l0": v for k, v in m.params.items()}
    with pytest.raises(WeightFileError, match="nope.npz: weight file not found"):
        load_weights(tmp_path / "nope.npz")
    p = _write(tmp_path / "a.npz", **{**good, "bias_hh_l0": np.zeros(12)})
    with pytest.raises(
        WeightFileError, match=r"a.npz: bias_hh: expected shape \(16,\) for a lstm.*got \(12,\)"
    ):
        load_weights(p)
    p = _write(tmp_path / "b.npz", **{k: v for k, v in good.items() if k != "bias_ih_l0"})
    with pytest.raises(WeightFileError, match="b.npz: missing key bias_ih_l0"):
        load_weights(p)
    p = _write(tmp_path / "c.npz", **good)
    with pytest.raises(
        WeightFileError, match=r"c.npz: weight_hh: expected shape \(16, 16\) for a rnn with "
        r"H=16, I=3, got \(16, 4\); its keys and shapes are a lstm's \(H=4, I=3\)"
    ):
        load_weights(p, "rnn")
    with pytest.raises(
        WeightFileError, match=r"c.npz: weight_hh: expected shape \(20, 5\), got \(16, 4\)"
    ):
        load_weights(p, model=build_model("lstm", 3, 5))
    p = _write(tmp_path / "d.npz", **{**good, "weight_hh_l0": np.zeros((10, 4))})
    with pytest.raises(WeightFileError, match=r"d.npz: weight_hh: cannot infer the kind"):
        load_weights(p)
    p = _write(tmp_path / "e.npz", **{**good, "weight_ih_l1": np.zeros((16, 4))})
    with pytest.raises(WeightFileError, match="e.npz: missing key weight_hh_l1: layer 1 lacks"):
        load_weights(p)
    (tmp_path / "f.npz").write_text("not a zip")
    with pytest.raises(WeightFileError, match="f.npz: not a readable .npz"):
        load_weights(tmp_path / "f.npz")
    p = _write(
        tmp_path / "g.npz",
        **{**good, "readout.weight": np.zeros((2, 3)), "readout.bias": np.zeros(2)},
    )
    with pytest.raises(WeightFileError, match=r"g.npz: readout.weight: expected shape \(O, 4\)"):
        load_weights(p)
    p = _write(tmp_path / "h.npz", **good, __kind__=np.array("gru"))
    with pytest.raises(
        WeightFileError, match=r"h.npz: weight_ih: expected shape \(12, 3\) for a gru"
    ):
        load_weights(p)
