"""`lstmviz train --history` and `lstmviz export --history`; the save checkpoint as one unit,
destinations checked before training, upper limits, extreme learning rates."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest

from lstmviz.cli import main
from lstmviz.engine.errors import WeightFileError
from lstmviz.engine.training.trainer import TrainConfig, Trainer, sidecar_path

TINY = ["--length", "6", "--hidden", "6", "--batch", "8", "--iterations", "15", "--quiet"]


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """An LSTM and a tanh RNN on the adding problem at T = 20, 400 iterations each (a few
    seconds), exported as history.csv / history.png."""
    d = tmp_path_factory.mktemp("story")
    for model in ("lstm", "rnn"):
        assert main(["train", "--model", model, "--length", "20", "--iterations", "400",
                     "--history", str(d / "h"), "--quiet"]) == 0
    (d / "out").mkdir()
    assert main(["export", "--history", str(d / "h"), "--out", str(d / "out"),
                 "--format", "csv,png"]) == 0
    return d


def test_history_csv_has_the_documented_columns(story):
    rows = read_rows(story / "out" / "history.csv")
    cols = list(rows[0])
    assert cols[:5] == ["model", "iteration", "t", "loss", "eval_mse"]
    assert {"lstm log10 ||dL/dh_t||", "lstm log10 ||dL/dc_t||",
            "rnn log10 ||dL/dh_t||"} <= set(cols)
    lstm = [r for r in rows if r["model"] == "lstm"]
    assert {int(r["t"]) for r in lstm} == set(range(1, 21))
    assert lstm[0]["loss"] == ""  # iteration 0: no minibatch yet
    assert any(r["eval_mse"] == "" for r in lstm)  # blank where not evaluated
    assert any(r["eval_mse"] != "" for r in lstm)
    assert all(r["rnn log10 ||dL/dh_t||"] == "" for r in lstm)
    png = (story / "out" / "history.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_lstm_learns_to_carry_the_error_back(story):
    """log10 ||dL/dh_1|| / ||dL/dh_T|| on the probe rises from the first to the last snapshot."""
    rows = [r for r in read_rows(story / "out" / "history.csv") if r["model"] == "lstm"]
    col = "lstm log10 ||dL/dh_t||"
    its = sorted({int(r["iteration"]) for r in rows})

    def ratio(it):
        g = {int(r["t"]): float(r[col]) for r in rows if int(r["iteration"]) == it}
        return g[1] - g[20]

    assert ratio(its[-1]) > ratio(its[0]) + 0.3, (ratio(its[0]), ratio(its[-1]))


def test_history_export_refuses_other_formats_and_existing_files(story, capsys):
    from lstmviz.cli import main as cli

    assert cli(["export", "--history", str(story / "h"), "--out", str(story / "out"),
                "--format", "csv"]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli(["export", "--history", str(story / "h"), "--out", str(story / "out"),
                "--format", "svg", "--force"]) == 2
    assert "--history" in capsys.readouterr().err


def test_save_to_a_missing_folder_fails_before_training(capsys):
    start = time.perf_counter()
    assert main(["train", "--seconds", "60", "--save", "/nonexistent/w.npz"]) == 2
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err
    assert "/nonexistent" in err and "does not exist" in err


@pytest.mark.parametrize(("flag", "value", "what"), [
    ("--length", "1000000000", "length"), ("--hidden", "100000", "hidden_size"),
    ("--batch", "100000", "batch_size"), ("--symbols", "100000", "n_symbols"),
])
def test_upper_limits_are_one_message(capsys, flag, value, what):
    args = ["train", flag, value, "--iterations", "1"]
    if flag == "--symbols":
        args += ["--task", "recall"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert what in err and "at most" in err and "Traceback" not in err


def test_memory_estimate_refuses_what_would_not_fit(capsys):
    assert main(["train", "--length", "10000", "--batch", "4096", "--iterations", "1"]) == 2
    assert "GiB" in capsys.readouterr().err


def test_huge_learning_rate_warns_nothing(capsys):
    # pytest turns RuntimeWarning into an error: the NaN is reported, never warned about
    import json

    assert main(["train", "--lr", "1e308", *TINY, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mse"] is None and result["solved"] is False  # NaN: JSON has none


def test_interrupted_save_resumes_from_the_complete_checkpoint(tmp_path, monkeypatch):
    """An interrupted save (here between the checkpoint and the weights) puts the old
    checkpoint back: the pair on disk stays the previous save's, whole, and resume
    continues from it exactly. (A kill -9 there, which runs no handler, leaves the new
    checkpoint with the old weights: test_reliability_diskfull checks that case.)"""
    import lstmviz.engine.training.trainer as training
    from lstmviz.engine.training.trainer import pair_matches

    path = tmp_path / "w.npz"
    t = Trainer(TrainConfig(length=6, hidden_size=4, batch_size=8))
    list(t.run(5))
    t.save(path)
    at_5 = {k: v.copy() for k, v in t.params.items()}
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    list(t.run(5))

    def killed(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_weights", killed)
    with pytest.raises(KeyboardInterrupt):
        t.save(path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert pair_matches(path)
    back = Trainer.load(path)
    assert back.iteration == 5
    for k in t.params:
        np.testing.assert_array_equal(back.params[k], at_5[k])


def test_resume_sidecar_missing_a_key_is_one_message(tmp_path, capsys):
    path = tmp_path / "w.npz"
    t = Trainer(TrainConfig(length=6, hidden_size=4, batch_size=8))
    t.save(path)
    side = sidecar_path(path)
    with np.load(side) as data:
        arrays = {k: data[k] for k in data.files if k != "iteration"}
    np.savez(side, **arrays)
    with pytest.raises(WeightFileError, match="missing key 'iteration'"):
        Trainer.load(path)
    assert main(["train", "--resume", str(path), "--iterations", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "w.train.npz" in err and "iteration" in err and "Traceback" not in err


def test_resume_continues_the_history(tmp_path):
    from lstmviz.engine.training.history import read_history

    h, w = str(tmp_path / "h"), str(tmp_path / "w.npz")
    base = ["--length", "6", "--hidden", "4", "--batch", "8", "--quiet", "--history", h]
    assert main(["train", *base, "--iterations", "50", "--save", w]) == 0
    first = [s.iteration for s in read_history(h)["lstm"].snapshots]
    assert main(["train", *base, "--iterations", "50", "--resume", w]) == 0
    its = [s.iteration for s in read_history(h)["lstm"].snapshots]
    assert its[:len(first)] == first and its[-1] == 100 and its == sorted(set(its))
