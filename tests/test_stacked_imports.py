"""Stacked weight files set num_layers (issue 13): File > Import weights (Session.with_weights),
a configuration's [weights] and a lecture step's weights take the file's layer count, and
show every layer of the file, not layer 0 only; a config that sets another num_layers is one
message naming the key and the file."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz import engine
from lstmviz.config import Config, ConfigError, load_config
from lstmviz.engine.stack import build_stack
from lstmviz.session import Session, compute_runs
from lstmviz.walkthrough import load_walkthrough


@pytest.fixture
def lstm2(tmp_path):
    path = tmp_path / "models" / "lstm2.npz"
    path.parent.mkdir()
    stack = build_stack("lstm", 1, 5, num_layers=2, seed=21)
    engine.save_weights(path, stack, engine.build_readout(5, 1, seed=3))
    return path, stack


def _same_stack(run, stack):
    assert run.imported and run.num_layers == stack.num_layers
    got = run.stack[0]
    for k, v in stack.params.items():  # every layer, not layer 0 only
        np.testing.assert_array_equal(got.params[k], v)


def test_importing_a_two_layer_file_sets_num_layers(lstm2):
    path, stack = lstm2
    session = Session(Config(models=("rnn", "lstm"), seq_len=6, hidden_size=3))
    model, readout = engine.load_weights(path)
    config, weights = session.with_weights(model.kind, model, readout)
    assert (config.num_layers, config.hidden_size) == (2, 5)
    session.set_weights(model.kind, model, readout)
    assert session.config.num_layers == 2
    _same_stack(session.runs["lstm"], stack)
    assert session.runs["rnn"].num_layers == 2  # the model compared beside it: two layers too
    # and back: a one-layer file into the two-layer session makes it one layer again
    one = engine.build_model("lstm", 1, 5, seed=2)
    session.set_weights("lstm", one, None)
    assert session.config.num_layers == 1 and session.runs["lstm"].num_layers == 1


def test_a_config_naming_a_two_layer_file_takes_its_layer_count(tmp_path, lstm2):
    path, stack = lstm2
    cfg = tmp_path / "c.toml"
    cfg.write_text('[settings]\nmodels = ["rnn", "lstm"]\nseq_len = 6\n'
                   '[weights]\nlstm = "models/lstm2.npz"\n', encoding="utf-8")
    config = load_config(cfg)
    assert (config.num_layers, config.hidden_size) == (2, 5)
    runs = compute_runs(config)
    _same_stack(runs["lstm"], stack)
    assert runs["rnn"].num_layers == 2
    cfg.write_text('[settings]\nmodels = ["lstm"]\nseq_len = 6\nnum_layers = 3\n'
                   '[weights]\nlstm = "models/lstm2.npz"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.toml: weights.lstm: .*lstm2.npz holds a model of "
                                          r"2 layer\(s\), but num_layers = 3; set num_layers = 2"):
        load_config(cfg)


def test_a_lecture_step_naming_a_two_layer_file_takes_its_layer_count(tmp_path, lstm2):
    path, stack = lstm2
    lecture = tmp_path / "lec.toml"
    lecture.write_text('''title = "t"
[[step]]
title = "untrained"
setup = { models = ["lstm"], seq_len = 6 }
[[step]]
title = "trained, two layers"
setup = { weights = { lstm = "models/lstm2.npz" } }
''', encoding="utf-8")
    wt = load_walkthrough(lecture)
    assert [s.config.num_layers for s in wt.steps] == [1, 2]
    _same_stack(compute_runs(wt.steps[1].config)["lstm"], stack)


def test_the_shipped_two_layer_lstm_and_its_lecture_steps():
    """builtin:adding_lstm2 loads as two layers, solves the task as its manifest says, and
    the lecture steps showing it (08_after_training) make its session two layers and have
    claims that hold on the runs they compute (the walkthrough's own claim checks)."""
    from lstmviz.named_weights import builtin_models, load_file
    from lstmviz.walkthrough import check_claim, find_walkthrough

    entry = builtin_models()["adding_lstm2"]
    model, readout = load_file("builtin:adding_lstm2", "lstm")
    assert model.num_layers == 2 and readout is not None
    assert entry["solved"] and entry["eval_mse"] < 0.01 < 1 / 6
    wt = load_walkthrough(find_walkthrough("08_after_training"))
    steps = [s for s in wt.steps if s.config.num_layers == 2]
    assert len(steps) == 2 and "builtin:adding_lstm2" in steps[1].config.weight_files.values()
    for step in steps:
        runs = compute_runs(step.config)
        assert runs["lstm"].num_layers == 2
        quantities = {c.quantity for c in step.claims}
        assert {"grad_depth_ratio", "grad_bottom_ratio"} <= quantities
        for claim in step.claims:
            ok, actual = check_claim(claim, runs)
            assert ok, f"{claim.describe()}: measured {actual.text()}"
    assert runs["lstm"].imported and runs["lstm"].stack[0].params["weight_hh_l1"].shape == (
        64, 16)


def test_depth_quantities_on_one_layer_and_a_step_beyond_the_run():
    """One layer: bottom = top, so grad_depth_ratio is 1 and grad_bottom_ratio is
    grad_ratio; a t beyond the run (a step's claims against the runs still on screen) is
    NaN, not an error."""
    import math

    from lstmviz.walkthrough import measure_quantity

    runs = compute_runs(Config(models=("lstm",), seq_len=7, hidden_size=3))
    assert measure_quantity("lstm", "grad_depth_ratio", runs).log10 == 0.0
    assert (measure_quantity("lstm", "grad_bottom_ratio", runs, 2).log10
            == measure_quantity("lstm", "grad_ratio", runs, 2).log10)
    for q in ("grad_ratio", "grad_depth_ratio", "grad_bottom_ratio"):
        assert math.isnan(measure_quantity("lstm", q, runs, 50).log10)
