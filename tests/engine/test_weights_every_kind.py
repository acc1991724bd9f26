"""Weight files for every registered kind (issue 13): save_weights / load_weights round trip
one layer and a two-layer stack, as .npz and .safetensors, with the kind, activation and
equation options in the file's metadata; a bare state_dict (no metadata) reads as the one kind
its keys and shapes fit, as the kind PyTorch saves when several fit, and is one message naming
the candidates and the missing "__kind__" otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from lstmviz.engine import WeightFileError, build_readout, cells, load_weights, save_weights
from lstmviz.engine.stack import StackedModel, build_stack, stack_forward

KINDS = cells.kinds()
I, H = 3, 4


def _non_default_options(kind: str) -> tuple[str | None, dict]:
    """(activation, equation options), each the kind's last choice, so that a round trip that
    forgot the metadata would come back with the defaults and fail."""
    spec = cells.get(kind)
    activation, options = None, {}
    for o in spec.options:
        if o.choices:
            value = o.choices[-1] if o.choices[-1] != o.default else o.choices[0]
            if o.name == "activation":
                activation = value
            else:
                options[o.name] = value
    return activation, options


def _build(kind: str, L: int, seed: int = 5) -> StackedModel:
    activation, options = _non_default_options(kind)
    return build_stack(kind, I, H, num_layers=L, seed=seed, activation=activation, **options)


def _layers(m):
    return m.layers if isinstance(m, StackedModel) else (m,)


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_every_kind(tmp_path, kind, L, ext):
    stack = _build(kind, L)
    readout = build_readout(H, 2, seed=1)
    path = tmp_path / f"w{ext}"
    save_weights(path, stack if L > 1 else stack.layers[0], readout)
    got, ro = load_weights(path)
    assert isinstance(got, StackedModel) == (L > 1)
    assert len(_layers(got)) == L
    for want, have in zip(stack.layers, _layers(got), strict=True):
        assert (have.kind, have.input_size, have.hidden_size) == (kind, want.input_size, H)
        assert have.activation == want.activation
        assert have.options == want.options
        assert set(have.params) == set(want.params)
        for k, v in want.params.items():
            np.testing.assert_array_equal(have.params[k], v)
    np.testing.assert_array_equal(ro.weight, readout.weight)
    np.testing.assert_array_equal(ro.bias, readout.bias)
    xs = np.random.default_rng(0).standard_normal((6, 2, I))
    np.testing.assert_array_equal(stack_forward(got, xs).h, stack_forward(stack, xs).h)
    # with the model to replace, the file loads into its shape (the app's import path)
    again, _ = load_weights(path, model=got)
    assert again.kind == kind and len(_layers(again)) == L


def _fitting_kinds(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Every registered kind with some I, H (1..16) whose parameter shapes are these: the
    test's own search, independent of weights_io.infer_kinds."""
    out = []
    for k in KINDS:
        fn = cells.get(k).param_shapes
        if set(fn(1, 1)) != set(shapes):
            continue
        if any(fn(i, h) == shapes for i in range(1, 17) for h in range(1, 17)):
            out.append(k)
    return out


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_bare_state_dict_infers_the_kind_where_unambiguous(tmp_path, kind, L, ext):
    stack = _build(kind, L)
    sd = {k: np.ascontiguousarray(v, np.float32) for k, v in stack.params.items()}
    path = tmp_path / f"sd{ext}"
    if ext == ".npz":
        np.savez(path, **sd)
    else:
        save_file(sd, str(path))
    fits = _fitting_kinds({k: tuple(v.shape) for k, v in stack.layers[0].params.items()})
    assert kind in fits
    native = [k for k in fits if cells.get(k).pytorch]
    if len(fits) == 1 or len(native) == 1:
        expect = fits[0] if len(fits) == 1 else native[0]
        got, ro = load_weights(path)
        assert ro is None
        assert len(_layers(got)) == L
        assert got.kind == expect
        for k, v in stack.params.items():
            np.testing.assert_allclose(got.params[k], v, rtol=1e-6)
    else:
        with pytest.raises(WeightFileError, match=r"__kind__: missing, and the keys and shapes "
                                                  r"fit several kinds alike: .*" + kind):
            load_weights(path)
    # naming the kind always loads it exactly as saved (float32 -> float64)
    got, _ = load_weights(path, kind)
    assert got.kind == kind and len(_layers(got)) == L


def test_the_ambiguous_pairs_are_the_ones_expected():
    """The kinds sharing keys and shapes at I=3, H=4 (what the bare-file test relies on):
    the sLSTM has the LSTM's shapes (both ways); a minLSTM's (12, 3) is also a minGRU's with
    H=6; every other kind is told apart by its keys and shapes (rnn's weight_hh is (H, H),
    IndRNN's (H,))."""
    pairs = {k: _fitting_kinds(cells.get(k).param_shapes(I, H)) for k in cells.BUILTIN}
    assert {k: v for k, v in pairs.items() if len(v) > 1} == {
        "lstm": ["lstm", "slstm"], "slstm": ["lstm", "slstm"], "minlstm": ["mingru", "minlstm"]}


def test_min_gru_and_min_lstm_share_keys_and_need_the_kind(tmp_path):
    """weight_ih (12, 3), bias_ih (12,): a minGRU with H=6 or a minLSTM with H=4; neither is
    a kind PyTorch saves, so a bare file names both and says __kind__ is missing."""
    shapes = cells.get("minlstm").param_shapes(3, 4)
    assert _fitting_kinds(shapes) == ["mingru", "minlstm"]
    np.savez(tmp_path / "m.npz", **{k: np.ones(s) for k, s in shapes.items()})
    with pytest.raises(WeightFileError) as info:
        load_weights(tmp_path / "m.npz")
    msg = str(info.value)
    assert "m.npz: __kind__: missing" in msg
    assert "mingru (H=6, I=3)" in msg and "minlstm (H=4, I=3)" in msg
    np.savez(tmp_path / "k.npz", **{k: np.ones(s) for k, s in shapes.items()},
             __kind__=np.array("minlstm"))
    got, _ = load_weights(tmp_path / "k.npz")
    assert (got.kind, got.hidden_size) == ("minlstm", 4)


def test_bad_options_metadata_is_one_message(tmp_path):
    stack = _build("slstm", 1)
    path = tmp_path / "s.npz"
    save_weights(path, stack.layers[0])
    with np.load(path) as data:
        arrays = dict(data)
    assert str(arrays["__options__"]) == '{"forget_gate": "exp"}'
    np.savez(path, **{**arrays, "__options__": np.array("forget_gate=exp")})
    with pytest.raises(WeightFileError, match=r"s.npz: __options__: expected a JSON table"):
        load_weights(path)
    np.savez(path, **{**arrays, "__options__": np.array('{"forget_gate": "cubic"}')})
    with pytest.raises(WeightFileError, match=r"s.npz: .*forget_gate: expected one of"):
        load_weights(path)


def test_a_bare_lstm_file_reads_as_the_lstm_and_says_why(tmp_path):
    """An nn.LSTM state_dict (no __kind__) also fits the sLSTM: it reads as the LSTM, and a
    caller who asks gets the sentence saying so (the import's status bar shows it)."""
    stack = build_stack("slstm", I, H, num_layers=1, seed=1)
    np.savez(tmp_path / "sd.npz", **stack.params)
    notes: list[str] = []
    got, _ = load_weights(tmp_path / "sd.npz", notes=notes)
    assert got.kind == "lstm"
    assert notes == ["sd.npz has no __kind__: read as the LSTM (nn.LSTM's keys and shapes, "
                     "which the sLSTM shares); save it with __kind__ to say otherwise"]
    notes.clear()
    save_weights(tmp_path / "named.npz", stack.layers[0])
    assert load_weights(tmp_path / "named.npz", notes=notes)[0].kind == "slstm"
    assert notes == []


def test_empty_arrays_say_the_size_must_be_at_least_one(tmp_path):
    """Arrays of H = 0 fit every classic kind's shapes; that is one message, not a kind."""
    np.savez(tmp_path / "h0.npz", weight_ih=np.zeros((0, 3)), weight_hh=np.zeros((0, 0)),
             bias_ih=np.zeros(0), bias_hh=np.zeros(0))
    with pytest.raises(WeightFileError, match=r"h0.npz: weight_ih: expected a hidden size "
                                              r"H >= 1, got shape \(0, 3\)"):
        load_weights(tmp_path / "h0.npz")
