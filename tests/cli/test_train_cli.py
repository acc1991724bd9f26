"""`lstmviz train` end to end: JSON keys, saved weights, resume, usage errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lstmviz.cli import main

KEYS = {
    "task", "model", "num_layers", "length", "seq_len", "seed", "hidden", "batch", "optimizer",
    "lr", "clip",
    "iterations", "seconds", "iterations_per_second", "train_loss", "eval_loss", "grad_ratio",
    "solved", "saved",
}
TINY = ["--length", "6", "--hidden", "6", "--batch", "8", "--iterations", "15"]


def run_json(capsys, *args: str) -> dict:
    assert main(["train", *args, "--json"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1, out.out  # only the JSON on stdout
    assert "done:" in out.err  # progress on stderr
    return json.loads(lines[0])


def test_adding_json_has_documented_keys(capsys):
    result = run_json(capsys, "--task", "adding", "--model", "lstm", *TINY)
    assert set(result) == KEYS | {"mse"}
    assert result["task"] == "adding" and result["model"] == "lstm"
    assert result["iterations"] == 15 and result["length"] == 6
    assert result["iterations_per_second"] > 0
    assert 0 <= result["mse"] < 1 and result["mse"] == result["eval_loss"]
    assert isinstance(result["solved"], bool)
    assert result["grad_ratio"] > 0


def test_recall_reports_accuracy(capsys):
    result = run_json(capsys, "--task", "recall", "--model", "gru", "--symbols", "3", *TINY)
    assert set(result) == KEYS | {"accuracy"}
    assert 0 <= result["accuracy"] <= 1
    assert result["seq_len"] == 7  # lag 6: symbol at t = 1, cue at t = 7


def test_same_seed_same_result(capsys):
    a = run_json(capsys, "--model", "rnn", "--seed", "4", *TINY)
    b = run_json(capsys, "--model", "rnn", "--seed", "4", *TINY)
    assert a["train_loss"] == b["train_loss"] and a["mse"] == b["mse"]


def test_save_opens_in_engine_and_resumes(capsys, tmp_path):
    from lstmviz.engine import load_weights

    path = tmp_path / "w.npz"
    first = run_json(capsys, "--model", "gru", *TINY, "--save", str(path))
    assert first["saved"] == str(path)
    model, readout = load_weights(path)
    assert model.kind == "gru" and readout is not None
    assert (tmp_path / "w.train.npz").is_file()
    again = run_json(capsys, "--resume", str(path), "--iterations", "5")
    assert again["iterations"] == 5 and again["model"] == "gru"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "transformer"], "--model"),
        (["--length", "0"], "--length"),
        (["--lr", "-0.1"], "--lr"),
        (["--seconds", "1", "--iterations", "3"], "not allowed with"),
        (["--bogus"], "unrecognized"),
        (["--seed", "-1"], "seed"),
        (["--save", "weights.txt"], "--save"),
        (["--task", "adding", "--length", "1"], "length"),
        (["--task", "recall", "--noise", "-1"], "noise"),
        (["--num-layers", "5"], "--num-layers"),
        (["--num-layers", "0"], "--num-layers"),
        (["--num-layers", "2", "--history", "h"], "--history"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, args, message):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("lstmviz: error:") and message in err


@pytest.mark.parametrize("kind", ["lstm", "mingru"])  # a fused kernel's kind and a scan's
def test_num_layers_trains_a_stack_saved_with_pytorch_keys(capsys, tmp_path, kind):
    from lstmviz.engine import load_weights
    from lstmviz.engine.stack import StackedModel

    path = tmp_path / "w2.npz"
    result = run_json(capsys, "--model", kind, "--num-layers", "2", *TINY, "--save", str(path))
    assert result["num_layers"] == 2 and result["iterations"] == 15
    assert result["iterations_per_second"] > 0 and result["grad_ratio"] > 0
    with np.load(path) as data:
        assert "weight_ih_l1" in data.files and "weight_ih_l2" not in data.files
    model, readout = load_weights(path)
    assert isinstance(model, StackedModel) and (model.kind, model.num_layers) == (kind, 2)
    assert readout is not None
    again = run_json(capsys, "--resume", str(path), "--iterations", "2")
    assert again["num_layers"] == 2
    assert run_json(capsys, "--model", kind, *TINY)["num_layers"] == 1


def test_resume_missing_file_is_an_error(capsys, tmp_path):
    assert main(["train", "--resume", str(tmp_path / "nope.npz")]) != 0
    assert "not found" in capsys.readouterr().err


def test_console_entry_point_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lstmviz", "train", *TINY, "--json", "--quiet"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert set(json.loads(proc.stdout)) == KEYS | {"mse"}
