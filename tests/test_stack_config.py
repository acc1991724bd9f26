"""num_layers in the config, walkthrough setups, the session and gradients.csv (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.config import HELP, Config, ConfigError, load_config, save_config
from lstmviz.export import read_csv
from lstmviz.session import compute_runs
from lstmviz.walkthrough import parse_walkthrough


@pytest.mark.parametrize("bad", [0, 5, -1])
def test_num_layers_out_of_range(bad):
    with pytest.raises(ConfigError, match=f"num_layers: {bad} is out of range; expected 1 to 4"):
        Config(num_layers=bad)


@pytest.mark.parametrize("bad", [1.5, True, "2"])
def test_num_layers_must_be_an_integer(bad):
    with pytest.raises(ConfigError, match="num_layers: expected an integer"):
        Config(num_layers=bad)


def test_num_layers_round_trips_and_is_documented(tmp_path):
    assert Config().num_layers == 1 and "num_layers" in HELP
    save_config(tmp_path / "c.toml", Config(num_layers=3))
    assert "num_layers = 3" in (tmp_path / "c.toml").read_text()
    assert load_config(tmp_path / "c.toml").num_layers == 3
    (tmp_path / "bad.toml").write_text("[settings]\nnum_layers = 9\n")
    with pytest.raises(ConfigError, match=r"bad.toml: num_layers: 9 is out of range"):
        load_config(tmp_path / "bad.toml")


def test_walkthrough_setup_accepts_num_layers():
    w = parse_walkthrough({"title": "x", "step": [
        {"title": "a", "narration": "n", "setup": {"num_layers": 2, "models": ["lstm"]}}]})
    assert w.steps[0].config.num_layers == 2


def test_stacked_runs_top_layer_and_per_layer_logs():
    one = compute_runs(Config(models=("rnn", "gru"), seq_len=8, hidden_size=4))
    two = compute_runs(Config(models=("rnn", "gru"), seq_len=8, hidden_size=4, num_layers=2))
    for kind in ("rnn", "gru"):
        assert one[kind].num_layers == 1 and two[kind].num_layers == 2
        # layer 0 of the stack is the one-layer model (same seed), so the bottom layer's
        # forward pass is the same; the readout sees the top layer
        np.testing.assert_array_equal(two[kind].stack[1].layers[0].h, one[kind].trace.h)
        assert two[kind].trace is two[kind].stack[1].top
        logs = two[kind].log10_h_layers
        assert logs.shape == (2, 8)
        np.testing.assert_array_equal(logs[1], two[kind].grads.log10_h)
        np.testing.assert_array_equal(one[kind].log10_h_layers[0], one[kind].grads.log10_h)


def test_gradients_csv_has_one_column_per_layer(tmp_path):
    from tests.cli.test_export_cli import lstmviz

    cfg = tmp_path / "two.toml"
    save_config(cfg, Config(models=("rnn", "lstm"), seq_len=6, hidden_size=4, num_layers=2))
    (tmp_path / "o").mkdir()
    lstmviz("--config", cfg, "--format", "csv", "--panels", "gradients", "--out", tmp_path / "o",
            check=0)
    cols = read_csv(tmp_path / "o" / "gradients.csv")
    runs = compute_runs(load_config(cfg))
    for kind in ("rnn", "lstm"):
        logs = runs[kind].log10_h_layers
        for l in (1, 2):
            np.testing.assert_allclose(cols[f"{kind} layer {l} ||dL/dh_t||"], 10 ** logs[l - 1],
                                       rtol=1e-12)
            np.testing.assert_allclose(cols[f"{kind} layer {l} log10 ||dL/dh_t||"],
                                       logs[l - 1], rtol=1e-12)
        # the existing columns keep their meaning: the top layer
        np.testing.assert_allclose(cols[f"{kind} ||dL/dh_t||"],
                                   cols[f"{kind} layer 2 ||dL/dh_t||"], rtol=1e-12)
    assert "layer 1" in (tmp_path / "o" / "columns.md").read_text()


def test_config_weights_naming_a_stacked_file(tmp_path):
    from lstmviz.engine import save_weights
    from lstmviz.engine.stack import build_stack, stack_backward, stack_forward

    stack = build_stack("lstm", 1, 5, num_layers=2, seed=11)
    save_weights(tmp_path / "two.npz", stack)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[settings]\nmodels = ["lstm"]\nseq_len = 7\n\n[weights]\nlstm = "two.npz"\n')
    config = load_config(cfg)
    assert config.hidden_size == 5
    run = compute_runs(config)["lstm"]
    assert run.num_layers == 2 and run.imported
    st = stack_forward(stack, run.task.xs)
    np.testing.assert_array_equal(run.trace.h, st.h)
    g = stack_backward(stack, st, run.dh_loss)
    np.testing.assert_array_equal(run.log10_h_layers, g.log10_h_layers)
