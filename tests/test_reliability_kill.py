"""kill -9 and SIGTERM during `lstmviz train --save` (issue 17, "Lost or mixed data"), in a
loop: half the kills at a random moment of the run, half while the save's temporaries are
being written or renamed. After every kill the weight file and its `.train.npz`
checkpoint are each whole (or absent), the checkpoint is the previous or the new save's,
`--resume` works (or, with no checkpoint, says why in one line), and the next save leaves
no temporary behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstmviz.engine.training.trainer import Trainer, pair_matches, sidecar_path
from lstmviz.engine.weights_io import load_weights

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
KILLS = 10


def lstmviz(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "lstmviz", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


def test_kills_during_train_save_leave_a_consistent_pair(tmp_path):
    rng = random.Random(17)
    w = tmp_path / "w.npz"
    base = ["--model", "lstm", "--length", "6", "--hidden", "512", "--batch", "8",
            "--iterations", "2", "--quiet"]
    assert lstmviz("train", *base, "--save", str(w)).wait(120) == 0
    iteration = Trainer.load(w).iteration
    outcomes: dict[str, int] = {}
    for i in range(KILLS):
        proc = lstmviz("train", "--resume", str(w), "--iterations", "2", "--quiet",
                       "--save", str(w))
        in_save = i % 2 == 1
        deadline = time.monotonic() + (60 if in_save else rng.uniform(0.3, 3.0))
        while time.monotonic() < deadline and proc.poll() is None:
            if in_save and temporaries(tmp_path):
                time.sleep(rng.uniform(0, 0.08))
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL if i % 4 < 2 else signal.SIGTERM)
        proc.wait(30)
        # each file whole or absent; the checkpoint is the previous or the new save's
        assert sidecar_path(w).exists() and w.exists()  # an earlier pair is never removed
        model, _ = load_weights(w, "lstm")
        assert model.hidden_size == 512
        back = Trainer.load(w)  # --resume works
        assert back.iteration in (iteration, iteration + 2), back.iteration
        matched = pair_matches(w)
        key = ("new" if back.iteration > iteration else "old") + (
            " pair" if matched else " checkpoint, old weights")
        outcomes[key] = outcomes.get(key, 0) + 1
        iteration = back.iteration
    resume = lstmviz("train", "--resume", str(w), "--iterations", "1", "--quiet",
                     "--save", str(w))
    assert resume.wait(120) == 0, resume.stderr.read()
    assert pair_matches(w) and Trainer.load(w).iteration == iteration + 1
    assert temporaries(tmp_path) == []  # the killed saves' leftovers were swept
    sys.stderr.write(f"\n{KILLS} kills during train --save: {outcomes}\n")


def test_resume_without_a_checkpoint_says_why_in_one_line(tmp_path):
    w = tmp_path / "w.npz"
    proc = lstmviz("train", "--resume", str(w), "--iterations", "1", "--quiet")
    assert proc.wait(60) == 2
    err = proc.stderr.read().strip().splitlines()
    assert len(err) == 1 and "w.train.npz" in err[0] and "not found" in err[0], err
