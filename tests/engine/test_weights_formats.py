"""Weight files as practitioners save them: .safetensors (written by safetensors.numpy), layer
suffixes, and one clear message for each file this app cannot use yet."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from lstmviz.engine import (
    WeightFileError,
    build_model,
    build_readout,
    load_weights,
    save_weights,
    weights_io,
)
from lstmviz.engine.cells import get

#: The kinds a plain state dict names by its shapes (weights_io loads these until issue 13
#: covers every kind; the sLSTM's tensors look like the LSTM's, so it needs __kind__).
KINDS = ["rnn", "lstm", "gru"]


def state_dict(kind="lstm", I=3, H=4, dtype=np.float32, suffix="_l0"):
    m = build_model(kind, I, H, seed=5)
    return m, {f"{k}{suffix}": v.astype(dtype) for k, v in m.params.items()}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("readout", [False, True])
def test_safetensors_written_by_the_package_loads(tmp_path, kind, readout):
    model, sd = state_dict(kind)
    if readout:
        ro = build_readout(4, 1, seed=2)
        sd["readout.weight"], sd["readout.bias"] = ro.weight, ro.bias
    path = tmp_path / "m.safetensors"
    save_file(sd, str(path))
    loaded, lro = load_weights(path)
    assert loaded.kind == kind
    np.testing.assert_allclose(loaded.params["weight_hh"], model.params["weight_hh"], rtol=1e-6)
    assert loaded.params["weight_hh"].dtype == np.float64
    assert (lro is not None) == readout
    if readout:
        np.testing.assert_array_equal(lro.weight, ro.weight)


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
@pytest.mark.parametrize("kind", KINDS)
def test_save_weights_round_trips_by_extension(tmp_path, kind, ext):
    model = build_model(kind, 2, 3, seed=1, activation="relu" if kind == "rnn" else "tanh")
    ro = build_readout(3, 2, seed=3)
    path = tmp_path / f"w{ext}"
    save_weights(path, model, ro)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    loaded, lro = load_weights(path)
    assert (loaded.kind, loaded.activation) == (kind, model.activation)
    for k in model.params:
        np.testing.assert_array_equal(loaded.params[k], model.params[k])
    np.testing.assert_array_equal(lro.bias, ro.bias)
    if ext == ".safetensors":  # a file any safetensors reader opens, kind in its metadata
        from safetensors.numpy import load_file
        assert set(load_file(str(path))) >= {"weight_ih_l0", "readout.weight"}
        n = struct.unpack("<Q", path.read_bytes()[:8])[0]
        meta = json.loads(path.read_bytes()[8:8 + n])["__metadata__"]
        assert meta == {"__kind__": kind, "__activation__": model.activation}


def test_kind_inference_uses_the_registry(tmp_path, monkeypatch):
    """Shapes of a kind only the registry knows are recognised and loaded."""
    shapes = get("mingru").param_shapes(3, 4)
    np.savez(tmp_path / "g.npz", **{f"{k}_l0": np.zeros(s) for k, s in shapes.items()})
    loaded, _ = load_weights(tmp_path / "g.npz")
    assert (loaded.kind, loaded.input_size, loaded.hidden_size) == ("mingru", 3, 4)
    assert weights_io.infer_kinds({k: np.zeros(s) for k, s in shapes.items()})[0] == [
        ("mingru", 3, 4)]


def _one_message(call):
    with pytest.raises(WeightFileError) as info:
        call()
    return str(info.value)


def test_bidirectional_is_one_clear_message(tmp_path):
    _, sd = state_dict()
    sd.update({k + "_reverse": v for k, v in list(sd.items())})
    save_file(sd, str(tmp_path / "bi.safetensors"))
    msg = _one_message(lambda: load_weights(tmp_path / "bi.safetensors"))
    assert re.search(r"bi.safetensors: \w+_l0_reverse: a bidirectional model", msg)
    assert "not supported yet" in msg


@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_half_precision_says_save_float32(tmp_path, dtype):
    _, sd = state_dict(dtype=np.float16)
    path = tmp_path / "h.safetensors"
    save_file(sd, str(path))
    if dtype == "BF16":  # NumPy has no bfloat16: patch the header's dtype names
        raw = path.read_bytes()
        n = struct.unpack("<Q", raw[:8])[0]
        header = raw[8:8 + n].replace(b'"F16"', b'"BF16"')
        path.write_bytes(struct.pack("<Q", len(header)) + header + raw[8 + n:])
    msg = _one_message(lambda: load_weights(path))
    name = "bfloat16" if dtype == "BF16" else "float16"
    assert f"{name} tensors are not supported: save the weights as float32 or float64" in msg
    np.savez(tmp_path / "h.npz", **state_dict(dtype=np.float16)[1])
    assert "float16 tensors are not supported" in _one_message(
        lambda: load_weights(tmp_path / "h.npz"))


@pytest.mark.parametrize("name", ["model.pt", "model.pth"])
def test_torch_pickles_get_the_recipe_never_unpickled(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x80\x02cos\nsystem\n(S'touch /tmp/h6_pwned'\ntR.")  # a hostile pickle
    msg = _one_message(lambda: load_weights(path))
    assert f"{name}: a PyTorch pickle" in msg
    assert weights_io.TORCH_RECIPE in msg
    assert "numpy.savez" in msg and "torch.load" in msg


def test_torch_zip_saved_as_npz_gets_the_recipe(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02.")
    assert "a PyTorch zip pickle" in _one_message(lambda: load_weights(tmp_path / "x.npz"))


def test_wrong_shapes_missing_layer_and_more_layers(tmp_path):
    _, sd = state_dict()
    save_file({**sd, "bias_hh_l0": np.zeros(12, np.float32)}, str(tmp_path / "s.safetensors"))
    assert "s.safetensors: bias_hh: expected shape (16,) for a lstm" in _one_message(
        lambda: load_weights(tmp_path / "s.safetensors"))
    two = {**sd, **{k.replace("_l0", "_l1"): v for k, v in sd.items()}}
    save_file(two, str(tmp_path / "two.safetensors"))
    msg = _one_message(lambda: load_weights(tmp_path / "two.safetensors"))
    # a stacked file loads (issue 13); a layer above that does not read the H outputs of the
    # layer below is one message naming its key
    assert msg.endswith("two.safetensors: weight_ih_l1: expected shape (16, 4) (layer 1 reads "
                        "the 4 outputs of layer 0), got (16, 3)")
    gap = {**sd, **{k.replace("_l0", "_l2"): v for k, v in sd.items()}}
    np.savez(tmp_path / "gap.npz", **gap)
    assert "gap.npz: missing layer 1" in _one_message(lambda: load_weights(tmp_path / "gap.npz"))
    assert len(weights_io.split_layers(tmp_path, {k: v for k, v in two.items()})) == 2


@pytest.mark.parametrize("raw", [b"", b"\x05\x00", struct.pack("<Q", 10**9) + b"{}",
                                 struct.pack("<Q", 4) + b"nope",
                                 struct.pack("<Q", 2) + b"[]"])
def test_broken_safetensors_headers(tmp_path, raw):
    path = tmp_path / "b.safetensors"
    path.write_bytes(raw)
    msg = _one_message(lambda: load_weights(path))
    assert "b.safetensors: not a" in msg and "safetensors" in msg


def test_safetensors_declaring_huge_tensors_is_refused_before_reading(tmp_path):
    header = json.dumps({"weight_hh_l0": {"dtype": "F64", "shape": [2**20, 2**20],
                                          "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    assert "huge.safetensors: weight_hh_l0: declares (1048576, 1048576) F64" in _one_message(
        lambda: load_weights(path))


def test_torch_cross_check(tmp_path):
    """Optional: a real nn.LSTM's state_dict loads and runs to PyTorch's outputs."""
    torch = pytest.importorskip("torch")  # not installed in CI; the rest never needs it
    from lstmviz.engine import forward
    net = torch.nn.LSTM(3, 5).double()
    np.savez(tmp_path / "t.npz", **{k: v.detach().numpy() for k, v in net.state_dict().items()})
    model, _ = load_weights(tmp_path / "t.npz")
    x = np.random.default_rng(0).normal(size=(7, 2, 3))
    out, _ = net(torch.from_numpy(x))
    np.testing.assert_allclose(forward(model, x).h, out.detach().numpy(), atol=1e-12)
