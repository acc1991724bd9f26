"""Weights named in configurations and lectures: [weights], setup.weights, builtin:NAME,
one cached loader (lstmviz.named_weights), export --config computed from those weights."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from lstmviz import engine, named_weights
from lstmviz.config import Config, ConfigError, load_config, save_config
from lstmviz.engine.stack import num_layers_of
from lstmviz.session import compute_runs
from lstmviz.walkthrough import WalkthroughError, load_walkthrough


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def lstm_file(tmp_path):
    path = tmp_path / "models" / "my_lstm.npz"
    path.parent.mkdir()
    model = engine.build_model("lstm", 1, 5, seed=11)
    engine.save_weights(path, model, engine.build_readout(5, 1, seed=12))
    return path, model


def test_a_weights_table_is_relative_to_the_config_file(tmp_path, lstm_file, monkeypatch):
    path, model = lstm_file
    cfg = write(tmp_path / "conf" / "c.toml",
                '[settings]\nmodels = ["rnn", "lstm"]\nseq_len = 8\n'
                '[weights]\nlstm = "../models/my_lstm.npz"\n')
    monkeypatch.chdir(tmp_path / "models")  # the working folder does not matter
    config = load_config(cfg)
    assert config.weight_files == {"lstm": str(path)}
    assert config.hidden_size == 5  # taken from the file: the config did not set it
    runs = compute_runs(config)
    assert runs["lstm"].imported and not runs["rnn"].imported
    np.testing.assert_array_equal(runs["lstm"].model.params["weight_hh"],
                                  model.params["weight_hh"])
    assert runs["rnn"].model.hidden_size == 5


def test_config_round_trip_keeps_weights(tmp_path, lstm_file):
    path, _ = lstm_file
    config = Config(models=("lstm", "gru"), hidden_size=5,
                    weights={"lstm": str(path), "gru": "builtin:adding_gru"})
    out = tmp_path / "saved.toml"
    save_config(out, config)
    text = out.read_text()
    assert '[weights]\ngru = "builtin:adding_gru"\nlstm = "models/my_lstm.npz"\n' in text
    with pytest.raises(ConfigError, match="weights.gru: .*hidden size 16, but hidden_size = 5"):
        load_config(out)  # both files are checked when the config loads
    save_config(out, config.replace(weights={"lstm": str(path)}))
    assert load_config(out) == config.replace(weights={"lstm": str(path)})


@pytest.mark.parametrize(("body", "message"), [
    ('lstm = "nope.npz"', r"c.toml: weights.lstm: .*nope.npz: weight file not found"),
    ('lstm = "builtin:nope"', r"c.toml: weights.lstm: builtin:nope: no such built-in model; "
                              "the built-in models are builtin:adding_lstm"),
    ('gru = "builtin:adding_gru"', r"c.toml: weights.gru: gru is not among models"),
    ('lstm = 3', r"c.toml: weights.lstm: expected a weight file path"),
    ('lstm = "builtin:adding_gru"', r"c.toml: weights.lstm: .*adding_gru.npz: __kind__: file "
                                    "holds a gru model, expected lstm"),
    ('cnn = "x.npz"', r"c.toml: weights: unknown model 'cnn'"),
])
def test_bad_weights_name_file_and_key(tmp_path, body, message):
    cfg = write(tmp_path / "c.toml", f'[settings]\nmodels = ["lstm"]\n[weights]\n{body}\n')
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_hidden_size_set_by_the_config_must_match(tmp_path):
    cfg = write(tmp_path / "c.toml", '[settings]\nmodels = ["lstm"]\nhidden_size = 8\n'
                                     '[weights]\nlstm = "builtin:adding_lstm"\n')
    with pytest.raises(ConfigError, match=r"c.toml: weights.lstm: builtin:adding_lstm holds a "
                                          r"model with hidden size 16, but hidden_size = 8"):
        load_config(cfg)


def test_files_are_read_once_and_again_when_changed(tmp_path, lstm_file, monkeypatch):
    path, _ = lstm_file
    calls = []
    real = engine.load_weights
    monkeypatch.setattr(engine, "load_weights", lambda *a, **k: calls.append(a) or real(*a, **k))
    config = Config(models=("lstm",), hidden_size=5, seq_len=4, weights={"lstm": str(path)})
    compute_runs(config)
    compute_runs(config.replace(seed=3, seq_len=9))
    assert len(calls) == 1
    engine.save_weights(path, engine.build_model("lstm", 1, 5, seed=99))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    runs = compute_runs(config)
    assert len(calls) == 2
    np.testing.assert_array_equal(runs["lstm"].model.params["weight_hh"],
                                  engine.build_model("lstm", 1, 5, seed=99).params["weight_hh"])


def test_changing_models_drops_the_weights_of_a_model_no_longer_shown():
    config = Config(models=("rnn", "lstm"), weights={"lstm": "builtin:adding_lstm"})
    assert config.replace(models=("rnn",)).weights == ()
    assert Config.from_dict({"models": ["gru"]}, base=config).weights == ()
    assert Config.from_dict({"seed": 2}, base=config).weights == config.weights


def test_the_shipped_models_load_as_their_manifest_says():
    models = named_weights.builtin_models()
    assert set(models) == {"adding_rnn", "adding_lstm", "adding_gru", "adding_lstm2"}
    for name, entry in models.items():
        model, readout = named_weights.load_file(f"builtin:{name}", entry["kind"])
        assert model.kind == entry["kind"] and model.hidden_size == entry["hidden_size"]
        assert num_layers_of(model) == entry.get("num_layers", 1)
        if num_layers_of(model) > 1:
            assert f"--num-layers {entry['num_layers']} " in entry["command"]
        assert readout is not None and readout.weight.shape == (1, model.hidden_size)
        assert entry["command"].startswith("lstmviz train --task adding --length 100 "
                                           f"--model {entry['kind']} ")
        assert entry["solved"] == (entry["eval_mse"] < 0.01)
    assert models["adding_lstm"]["solved"] and models["adding_gru"]["solved"]
    assert models["adding_lstm2"]["solved"]
    assert not models["adding_rnn"]["solved"]
    assert (named_weights.MODELS_DIR / "manifest.json").stat().st_size < 10_000
    assert sum(p.stat().st_size for p in named_weights.MODELS_DIR.iterdir()) < 200_000


def test_lecture_steps_name_weights_relative_to_the_lecture(tmp_path, lstm_file):
    path, model = lstm_file
    lecture = write(tmp_path / "lec.toml", '''title = "t"
[[step]]
title = "untrained"
setup = { models = ["lstm"], seq_len = 6 }
[[step]]
title = "trained"
setup = { weights = { lstm = "models/my_lstm.npz" } }
[[step]]
title = "kept"
setup = { seed = 4 }
[[step]]
title = "back to untrained"
setup = { weights = {} }
''')
    wt = load_walkthrough(lecture)
    assert [s.config.weight_files for s in wt.steps] == [{}, {"lstm": str(path)},
                                                         {"lstm": str(path)}, {}]
    assert wt.steps[1].config.hidden_size == 5
    runs = compute_runs(wt.steps[2].config)
    np.testing.assert_array_equal(runs["lstm"].model.params["bias_hh"], model.params["bias_hh"])


@pytest.mark.parametrize(("setup", "message"), [
    ('{ weights = { lstm = "gone.npz" } }',
     r"lec.toml: step 1: setup.weights.lstm: .*gone.npz: weight file not found"),
    ('{ weights = "x.npz" }', r"lec.toml: step 1: setup.weights: expected a table"),
    ('{ models = ["rnn"], weights = { lstm = "builtin:adding_lstm" } }',
     r"lec.toml: step 1: setup.weights.lstm: lstm is not among models"),
])
def test_bad_step_weights_name_file_step_and_key(tmp_path, setup, message):
    lecture = write(tmp_path / "lec.toml", f'title = "t"\n[[step]]\ntitle = "a"\nsetup = {setup}\n')
    with pytest.raises(WalkthroughError, match=message):
        load_walkthrough(lecture)


def _csv(path):
    rows = [r for r in csv.reader(path.read_text().splitlines()) if r and not r[0].startswith("#")]
    return rows[0], np.array(rows[1:], dtype=float)


def test_export_config_writes_csvs_computed_from_the_named_weights(tmp_path, lstm_file):
    path, _ = lstm_file
    cfg = write(tmp_path / "c.toml", '[settings]\nmodels = ["lstm"]\nseq_len = 7\n'
                                     '[weights]\nlstm = "models/my_lstm.npz"\n')
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lstmviz", "export", "--config", str(cfg),
                           "--out", str(out), "--format", "csv", "--panels", "gradients"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 120
    header, data = _csv(out / "gradients.csv")
    runs = compute_runs(load_config(cfg))
    want = runs["lstm"].diagnostics.grad_h_norm
    np.testing.assert_array_equal(data[:, header.index("lstm ||dL/dh_t||")], want)
    untrained = compute_runs(Config(models=("lstm",), seq_len=7, hidden_size=5))
    assert not np.allclose(want, untrained["lstm"].diagnostics.grad_h_norm)


def test_named_weights_win_over_imported_ones_and_an_import_replaces_them():
    from lstmviz.session import Session

    imported = engine.build_model("lstm", 2, 16, seed=77)
    s = Session(Config(models=("lstm",), seq_len=5, task="adding"))
    s.set_weights("lstm", imported, None)
    assert s.runs["lstm"].model is imported
    # a lecture step naming weights shows them, whatever was imported
    s.set_config(s.config.replace(weights={"lstm": "builtin:adding_lstm"}))
    shipped, _ = named_weights.load_file("builtin:adding_lstm", "lstm")
    assert s.runs["lstm"].model is shipped
    # importing again replaces the named file
    s.set_weights("lstm", imported, None)
    assert s.config.weights == () and s.runs["lstm"].model is imported


def test_max_forget_is_the_best_units_mean_forget_gate():
    from lstmviz.walkthrough import measure_quantity

    config = Config(models=("lstm",), seq_len=20, batch_size=3, task="adding",
                    weights={"lstm": "builtin:adding_lstm"})
    runs = compute_runs(config)
    f = runs["lstm"].trace.gates["forget"]
    per_unit = f.mean(axis=(0, 1))
    assert measure_quantity("lstm", "max_forget", runs).value == per_unit.max()
    assert per_unit.max() > f.mean() + 0.2  # one unit keeps, the others forget
