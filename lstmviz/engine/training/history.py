"""Training history: snapshots of one model taken at a steady rate while it trains.

Each `Snapshot` holds the weights after `iteration` updates and, on one fixed probe sequence
of the task (`probe_task`, the same for every snapshot), what the panels show: log10
||dL/dh_t|| (and log10 ||dL/dc_t|| for the LSTM), each (T,), and the keep-gate mean per unit
(H,) (the kind's Keep factor: LSTM forget gate, GRU update gate z, minGRU 1 - z ...;
None for kinds without one, the RNN). Also the training loss (mean
minibatch loss since the previous snapshot; NaN at iteration 0, before any minibatch) and,
every `EVAL_EVERY` snapshots and at the last one, the evaluation score on fresh sequences.

The probe is the app's own input for (task, T, batch 1, seed `PROBE_SEED`): a session with
those settings and a snapshot's weights shows exactly the snapshot's numbers (the replay).

On disk (`HistoryWriter`, `lstmviz train --history DIR`): DIR/<kind>/history.json (format,
kind, training config) and one DIR/<kind>/snap-<iteration>.npz per snapshot, every file
written atomically, so a killed run leaves a readable history of what it did. `read_history`
loads every kind found under DIR.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import cells
from ..diagnostics import compute_diagnostics
from ..errors import EngineError
from ..files import atomic_write_text
from ..readout import Readout, loss_and_grad
from ..tasks import Task, make_task
from ..unroll import backward, forward
from ..weights_io import atomic_savez
from .trainer import ADDING_SOLVED_MSE, RECALL_SOLVED_ACCURACY, TrainConfig, Trainer

#: Seed of the probe sequence (the app's input seed when replaying).
PROBE_SEED = 0
#: A snapshot every this fraction of the budget ...
SNAPSHOT_FRACTION = 0.02
#: ... and never more than this many per run.
MAX_SNAPSHOTS = 200
#: Evaluate on fresh sequences every this many snapshots (and at the first and last).
EVAL_EVERY = 5
#: Sequences per evaluation of the history (fewer than the final verdict's EVAL_SIZE).
HISTORY_EVAL_SIZE = 500
#: adding: the MSE of always answering the mean, Var(U1 + U2) = 1/12 + 1/12.
ADDING_CHANCE_MSE = 1.0 / 6.0
HISTORY_FORMAT = 1
_SNAP = re.compile(r"^snap-(\d+)\.npz$")


def keep_factor(kind: str, gates: dict[str, np.ndarray]) -> np.ndarray | None:
    """The kind's keep factor (cells Keep) from a trace's gates, None without a keep gate."""
    keep = cells.get(kind).keep
    if keep is None:
        return None
    g = gates[keep.gate]
    return 1.0 - g if keep.complement else g


def chance_score(config: TrainConfig) -> float:
    """The score of a model that learned nothing: MSE 1/6 (adding), accuracy 1/K (recall)."""
    return ADDING_CHANCE_MSE if config.task == "adding" else 1.0 / config.n_symbols


def probe_task(config: TrainConfig) -> Task:
    """The fixed probe sequence (batch 1) every snapshot is measured on."""
    opts = {"n_symbols": config.n_symbols} if config.task == "recall" else {}
    return make_task(config.task, config.seq_len, 1, seed=PROBE_SEED, **opts)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One model at one iteration; arrays (T,) per step, index t-1 for step t."""

    iteration: int
    seconds: float
    loss: float
    probe_loss: float
    eval_mse: float | None
    eval_accuracy: float | None
    params: dict[str, np.ndarray]
    log10_grad_h: np.ndarray
    log10_grad_c: np.ndarray | None
    keep_mean: np.ndarray | None

    @property
    def evaluated(self) -> bool:
        return self.eval_mse is not None or self.eval_accuracy is not None

    def model_and_readout(self, config: TrainConfig):
        """(Model, Readout) of these weights (for the app's Inspect path)."""
        t = Trainer(config)
        model = t.model.with_params({k: self.params[k] for k in t.model.params})
        return model, Readout(self.params["readout.weight"], self.params["readout.bias"])

    def log10_ratio(self) -> float:
        """log10 ||dL/dh_1|| / ||dL/dh_T|| on the probe (NaN if not finite)."""
        g = self.log10_grad_h
        with np.errstate(invalid="ignore"):
            r = float(g[0] - g[-1])
        return r if math.isfinite(r) else math.nan


def take_snapshot(trainer: Trainer, loss: float, evaluate: bool) -> Snapshot:
    """Measure the trainer's current weights on the probe (the app's engine path)."""
    cfg = trainer.config
    task = probe_task(cfg)
    model, readout = trainer.model, trainer.readout
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        trace = forward(model, task.xs)
        probe_loss, dh, _ = loss_and_grad(readout, trace.h, task.targets, loss=task.loss,
                                          where="last")
        grads = backward(model, trace, dh)
        diag = compute_diagnostics(model, trace, grads, jacobians=False)
        keep = keep_factor(cfg.kind, trace.gates)
        keep = None if keep is None else np.mean(keep, axis=(0, 1))
    mse = acc = None
    if evaluate:
        ev = trainer.evaluate(HISTORY_EVAL_SIZE)
        mse, acc = ev.mse, ev.accuracy
    lc = None if diag.log10_grad_c is None else np.array(diag.log10_grad_c)
    return Snapshot(trainer.iteration, trainer.elapsed, float(loss), float(probe_loss), mse,
                    acc, {k: v.copy() for k, v in trainer.params.items()},
                    np.array(diag.log10_grad_h), lc, keep)


def snapshot_every(iterations: int) -> int:
    """Iterations between snapshots for a budget: 2% of it, at most MAX_SNAPSHOTS in all."""
    return max(1, math.ceil(iterations * SNAPSHOT_FRACTION),
               math.ceil(iterations / MAX_SNAPSHOTS))


@dataclass
class Recorder:
    """Decides when to snapshot a trainer and keeps the snapshots (in memory, and through
    `writer` on disk). Call `start(trainer)` once, then `after_step(trainer, loss)` after
    every step and `finish(trainer)` at the end. Budget in iterations (snapshots at the
    multiples of `snapshot_every(iterations)`, so a resumed run keeps the schedule) or in
    seconds of training time. `count`: snapshots an earlier leg of the run took."""

    iterations: int | None = None
    seconds: float | None = None
    writer: HistoryWriter | None = None
    count: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)
    _losses: list[float] = field(default_factory=list)
    _next: float = 0.0
    _step: float = 1.0
    _time_based: bool = False

    def start(self, trainer: Trainer, take: bool = True) -> Snapshot | None:
        """Set the schedule from the trainer's place; `take` the first snapshot there."""
        if self.iterations is not None:
            self._step = snapshot_every(self.iterations)
            self._next = (trainer.iteration // self._step + 1) * self._step
        else:
            if self.seconds is None:
                raise EngineError("history: expected a budget of iterations or seconds")
            self._time_based = True
            self._step = self.seconds * SNAPSHOT_FRACTION
            self._next = trainer.elapsed + self._step
        return self._take(trainer, math.nan) if take else None

    def after_step(self, trainer: Trainer, loss: float) -> Snapshot | None:
        self._losses.append(loss)
        now = trainer.elapsed if self._time_based else trainer.iteration
        if now < self._next:
            return None
        self._next += self._step * (math.floor((now - self._next) / self._step) + 1)
        return self._take(trainer, self._mean_loss())

    def finish(self, trainer: Trainer) -> Snapshot | None:
        """The last snapshot (evaluated), unless the last step already took one."""
        last = self.snapshots[-1] if self.snapshots else None
        if last is not None and last.iteration == trainer.iteration:
            if last.evaluated:
                return None
            self.snapshots.pop()
            self.count -= 1
            loss = last.loss
        else:
            loss = self._mean_loss()
        return self._take(trainer, loss, force_eval=True)

    def _mean_loss(self) -> float:
        with np.errstate(invalid="ignore", over="ignore"):
            loss = float(np.mean(self._losses)) if self._losses else math.nan
        self._losses = []
        return loss

    def _take(self, trainer: Trainer, loss: float, force_eval: bool = False) -> Snapshot:
        evaluate = force_eval or self.count % EVAL_EVERY == 0
        snap = take_snapshot(trainer, loss, evaluate)
        self.snapshots.append(snap)
        self.count += 1
        if self.writer is not None:
            self.writer.write(snap)
        return snap


# -- disk ---------------------------------------------------------------------------------
class HistoryWriter:
    """Writes one kind's history under DIR/<kind>/ (every file atomic)."""

    def __init__(self, root: str | os.PathLike, config: TrainConfig,
                 resume_at: int | None = None) -> None:
        """A fresh history (old snapshots removed), or with `resume_at` (the iteration a
        resumed run starts from) the same run's snapshots up to it kept (`kept` of them)."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise EngineError(f"--history: {root} is not a folder")
        if not root.parent.is_dir():
            raise EngineError(f"--history: folder {root.parent} does not exist")
        self.folder = root / config.kind
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.kept = 0
            for old in sorted(self.folder.glob("snap-*.npz")):
                m = _SNAP.match(old.name)
                if resume_at is not None and m and int(m.group(1)) <= resume_at:
                    self.kept += 1
                else:  # a new run replaces an old history
                    old.unlink()
            meta = {"format": HISTORY_FORMAT, "kind": config.kind,
                    "config": json.loads(config.to_json()), "probe_seed": PROBE_SEED}
            _atomic_text(self.folder / "history.json", json.dumps(meta, indent=1) + "\n")
        except OSError as exc:
            raise EngineError(f"--history: cannot write {self.folder}: {exc}") from exc

    def write(self, snap: Snapshot) -> Path:
        arrays: dict[str, np.ndarray] = {
            "iteration": np.array(snap.iteration, dtype=np.int64),
            "seconds": np.array(snap.seconds),
            "loss": np.array(snap.loss),
            "probe_loss": np.array(snap.probe_loss),
            "log10_grad_h": snap.log10_grad_h,
        }
        for key in ("eval_mse", "eval_accuracy"):
            if getattr(snap, key) is not None:
                arrays[key] = np.array(getattr(snap, key))
        if snap.log10_grad_c is not None:
            arrays["log10_grad_c"] = snap.log10_grad_c
        if snap.keep_mean is not None:
            arrays["keep_mean"] = snap.keep_mean
        for k, a in snap.params.items():
            arrays[f"params/{k}"] = a
        path = self.folder / f"snap-{snap.iteration:09d}.npz"
        atomic_savez(path, arrays)
        return path


def _atomic_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)  # (the one writer: ordinary permissions, target named)


@dataclass(frozen=True, eq=False)
class History:
    """One kind's config and snapshots, oldest first."""

    config: TrainConfig
    snapshots: tuple[Snapshot, ...]

    @property
    def kind(self) -> str:
        return self.config.kind

    def iterations(self) -> np.ndarray:
        return np.array([s.iteration for s in self.snapshots], dtype=np.int64)

    def grid(self, key: str = "log10_grad_h") -> np.ndarray:
        """(n_snapshots, T) of log10_grad_h or log10_grad_c."""
        return np.array([getattr(s, key) for s in self.snapshots], dtype=np.float64)


def read_kind(folder: str | os.PathLike) -> History:
    """One DIR/<kind>/ folder -> History (complete snapshot files only)."""
    folder = Path(folder)
    meta_path = folder / "history.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        config = TrainConfig(**meta["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"{meta_path}: not a readable training history ({exc})") from exc
    snaps = []
    for path in sorted(folder.iterdir()):
        if not _SNAP.match(path.name):
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                a = {k: data[k] for k in data.files}
            snaps.append(Snapshot(
                int(a["iteration"]), float(a["seconds"]), float(a["loss"]),
                float(a["probe_loss"]),
                float(a["eval_mse"]) if "eval_mse" in a else None,
                float(a["eval_accuracy"]) if "eval_accuracy" in a else None,
                {k[len("params/"):]: v for k, v in a.items() if k.startswith("params/")},
                a["log10_grad_h"], a.get("log10_grad_c"), a.get("keep_mean")))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise EngineError(f"{path}: not a readable history snapshot ({exc})") from exc
    snaps.sort(key=lambda s: s.iteration)
    return History(config, tuple(snaps))


def read_history(root: str | os.PathLike) -> dict[str, History]:
    """Every kind's history under DIR (in cells.kinds() order); EngineError if there is none."""
    root = Path(root)
    if not root.is_dir():
        raise EngineError(f"--history: {root} is not a folder")
    found = {k: read_kind(root / k) for k in cells.kinds() if (root / k / "history.json").is_file()}
    if not found:
        raise EngineError(f"--history: {root} holds no training history "
                          "(written by `lstmviz train --history DIR`)")
    return found


# -- verdict ------------------------------------------------------------------------------
def solved(config: TrainConfig, mse: float | None, accuracy: float | None) -> bool:
    if config.task == "adding":
        return mse is not None and mse < ADDING_SOLVED_MSE
    return accuracy is not None and accuracy >= RECALL_SOLVED_ACCURACY


def at_chance(config: TrainConfig, mse: float | None, accuracy: float | None) -> bool:
    """No better than a model that learned nothing (within 10% of the chance MSE; recall:
    within 5 points of chance accuracy). A non-finite score counts as at chance."""
    if config.task == "adding":
        return mse is None or not math.isfinite(mse) or mse >= 0.9 * ADDING_CHANCE_MSE
    return accuracy is None or accuracy <= chance_score(config) + 0.05


def verdict(config: TrainConfig, snapshots: Iterable[Snapshot]) -> str:
    """'solved at iteration N (eval MSE 0.004)', 'at chance (eval MSE 0.168, chance 0.167)',
    'learning: eval MSE 0.05 (chance 0.167)' or '' before any evaluation."""
    evals = [s for s in snapshots if s.evaluated]
    if not evals:
        return ""
    for s in evals:
        if solved(config, s.eval_mse, s.eval_accuracy):
            return f"solved at iteration {s.iteration} ({_score(config, s)})"
    last = evals[-1]
    chance = chance_score(config)
    ref = f"chance {chance:.3g}"
    if at_chance(config, last.eval_mse, last.eval_accuracy):
        return f"at chance ({_score(config, last)}, {ref})"
    return f"learning: {_score(config, last)} ({ref})"


def _score(config: TrainConfig, s: Snapshot) -> str:
    if config.task == "adding":
        return f"eval MSE {s.eval_mse:.3g}"
    return f"eval accuracy {s.eval_accuracy:.3g}"
