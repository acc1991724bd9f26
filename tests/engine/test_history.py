"""Training history (lstmviz.engine.training.history): schedule, disk round trip, a kill mid-run,
the verdict, and the story it must tell (the LSTM learns to carry the error back)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lstmviz.engine import backward, compute_diagnostics, forward, loss_and_grad
from lstmviz.engine.errors import EngineError
from lstmviz.engine.training.history import (
    ADDING_CHANCE_MSE,
    MAX_SNAPSHOTS,
    HistoryWriter,
    Recorder,
    Snapshot,
    probe_task,
    read_history,
    snapshot_every,
    verdict,
)
from lstmviz.engine.training.trainer import TrainConfig, Trainer

TINY = TrainConfig(task="adding", length=6, hidden_size=5, batch_size=8, kind="lstm")
ROOT = Path(__file__).resolve().parents[2]


def record(config: TrainConfig, iterations: int, writer=None) -> tuple[Trainer, Recorder]:
    trainer = Trainer(config)
    rec = Recorder(iterations=iterations, writer=writer)
    rec.start(trainer)
    for m in trainer.run(iterations):
        rec.after_step(trainer, m.loss)
    rec.finish(trainer)
    return trainer, rec


def test_schedule_is_two_percent_and_bounded():
    assert snapshot_every(1000) == 20
    assert snapshot_every(10) == 1
    assert 1_000_000 / snapshot_every(1_000_000) <= MAX_SNAPSHOTS
    _, rec = record(TINY, 100)
    its = [s.iteration for s in rec.snapshots]
    assert its == list(range(0, 101, 2))
    assert rec.snapshots[0].evaluated and rec.snapshots[-1].evaluated
    assert not rec.snapshots[1].evaluated  # evaluation only every few snapshots
    assert math.isnan(rec.snapshots[0].loss) and np.isfinite(rec.snapshots[-1].loss)


def test_snapshot_is_the_app_engine_path_on_the_probe():
    trainer, rec = record(TINY, 10)
    snap = rec.snapshots[-1]
    task = probe_task(TINY)
    model, readout = snap.model_and_readout(TINY)
    trace = forward(model, task.xs)
    _, dh, _ = loss_and_grad(readout, trace.h, task.targets, loss=task.loss, where="last")
    diag = compute_diagnostics(model, trace, backward(model, trace, dh), jacobians=False)
    np.testing.assert_array_equal(diag.log10_grad_h, snap.log10_grad_h)
    np.testing.assert_array_equal(diag.log10_grad_c, snap.log10_grad_c)
    np.testing.assert_array_equal(snap.keep_mean, trace.gates["forget"].mean(axis=(0, 1)))
    np.testing.assert_array_equal(snap.params["weight_hh"], trainer.params["weight_hh"])


def test_round_trip_through_disk(tmp_path):
    _, rec = record(TINY, 30, HistoryWriter(tmp_path / "h", TINY))
    back = read_history(tmp_path / "h")["lstm"]
    assert back.config == TINY
    assert len(back.snapshots) == len(rec.snapshots)
    for a, b in zip(rec.snapshots, back.snapshots, strict=True):
        assert (a.iteration, a.eval_mse, a.eval_accuracy) == (b.iteration, b.eval_mse,
                                                              b.eval_accuracy)
        assert a.loss == b.loss or (math.isnan(a.loss) and math.isnan(b.loss))
        np.testing.assert_array_equal(a.log10_grad_h, b.log10_grad_h)
        np.testing.assert_array_equal(a.log10_grad_c, b.log10_grad_c)
        np.testing.assert_array_equal(a.keep_mean, b.keep_mean)
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])


def test_rnn_history_has_no_cell_or_gate(tmp_path):
    cfg = TINY.replace(kind="rnn")
    _, rec = record(cfg, 5, HistoryWriter(tmp_path, cfg))
    back = read_history(tmp_path)["rnn"]
    assert back.snapshots[0].log10_grad_c is None and back.snapshots[0].keep_mean is None
    assert len(rec.snapshots) == len(back.snapshots)


def test_read_history_errors_name_the_folder(tmp_path):
    with pytest.raises(EngineError, match="no training history"):
        read_history(tmp_path)
    with pytest.raises(EngineError, match="not a folder"):
        read_history(tmp_path / "missing")


def _snap(iteration: int, mse: float | None) -> Snapshot:
    z = np.zeros(3)
    return Snapshot(iteration, 0.0, 0.1, 0.1, mse, None, {}, z, None, None)


def test_verdict_solved_unsolved_and_learning():
    cfg = TrainConfig(task="adding")
    assert verdict(cfg, [_snap(0, 0.9), _snap(50, None), _snap(100, 0.004), _snap(150, 0.003)]
                   ) == "solved at iteration 100 (eval MSE 0.004)"
    text = verdict(cfg, [_snap(0, 0.9), _snap(100, 0.168)])
    assert text.startswith("at chance (eval MSE 0.168") and "chance 0.167" in text
    assert verdict(cfg, [_snap(100, 0.05)]).startswith("learning: eval MSE 0.05")
    assert verdict(cfg, [_snap(0, None)]) == ""
    assert verdict(cfg, [_snap(10, math.nan)]).startswith("at chance")
    assert math.isclose(ADDING_CHANCE_MSE, 1 / 6)
    rcfg = TrainConfig(task="recall", n_symbols=4)
    acc = Snapshot(10, 0.0, 1.0, 1.0, None, 0.27, {}, np.zeros(3), None, None)
    assert verdict(rcfg, [acc]).startswith("at chance (eval accuracy 0.27, chance 0.25")
    acc = Snapshot(20, 0.0, 1.0, 1.0, None, 0.99, {}, np.zeros(3), None, None)
    assert verdict(rcfg, [acc]) == "solved at iteration 20 (eval accuracy 0.99)"


def test_resumed_recorder_keeps_the_schedule():
    trainer = Trainer(TINY)
    rec = Recorder(iterations=100)
    rec.start(trainer)
    for m in trainer.run(31):
        rec.after_step(trainer, m.loss)
    rec2 = Recorder(iterations=100, count=rec.count)
    rec2.start(trainer, take=False)
    for m in trainer.run(9):
        rec2.after_step(trainer, m.loss)
    assert [s.iteration for s in rec2.snapshots] == [32, 34, 36, 38, 40]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_kill_during_history_leaves_a_readable_history(tmp_path):
    out = tmp_path / "h"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmviz", "train", "--model", "lstm", "--length", "30",
         "--seconds", "30", "--history", str(out), "--quiet"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(list((out / "lstm").glob("snap-*.npz"))) >= 3:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no snapshot written: " + proc.stderr.read().decode()[-500:])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    hist = read_history(out)["lstm"]
    its = [s.iteration for s in hist.snapshots]
    assert len(its) >= 2 and its == sorted(its) and its[0] == 0
    assert all(len(s.log10_grad_h) == 30 for s in hist.snapshots)


def test_sweep_summary_in_words():
    from lstmviz.engine.training.sweep import SweepResult, sweep_summary

    def r(kind, n, score):
        return SweepResult(kind, n, "adding", 0, score, score < 0.01, 10, 1.0, 1 / 6)

    rs = [r("rnn", 10, 0.003), r("rnn", 20, 0.17), r("rnn", 40, 0.19),
          r("lstm", 10, 0.001), r("lstm", 20, 0.002), r("lstm", 40, 0.003),
          r("gru", 10, 0.004), r("gru", 20, 0.05), r("gru", 40, 0.002)]
    s = sweep_summary(rs)
    assert s["rnn"] == "solved at T = 10; at chance from T = 20"
    assert s["lstm"] == "solved at every T (10 to 40)"
    assert s["gru"] == "solved at T = 10, 40"
