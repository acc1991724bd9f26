"""Minibatch training on tasks with known outcomes: the adding problem and first-symbol recall.

A `Trainer` owns writable copies of the model's and readout's parameters, an optimiser and
the iteration counter. `Trainer.run` is a generator yielding one `Metrics` per iteration, so
a caller (CLI, Qt worker, sweep process) decides when to stop. Every minibatch is a fresh
`make_task` draw seeded from (training seed, iteration), so a run is deterministic for a seed
and a resumed run continues exactly as an uninterrupted one would.

Tasks (`TrainConfig.length`):
- "adding": sequence length T = length. Solved when the evaluation MSE < 0.01; answering the
  mean (1.0) every time scores Var(U1 + U2) = 1/6 ~ 0.167.
- "recall": lag L = length: the symbol is shown at t = 1 and the cue at t = L + 1, so
  T = L + 1. Solved when evaluation accuracy >= 0.95; chance is 1 / n_symbols.

Evaluation always uses a fresh set of `EVAL_SIZE` sequences drawn from a seed that no
training minibatch uses.

Files: `Trainer.save(path)` writes the training checkpoint to a sidecar `<stem>.train.npz`
first: "format" (2), "config" (JSON), "iteration", "elapsed", "optimizer" (name), the
optimiser's moment buffers as "optim/<slot>/<param>" and every trained parameter as
"params/<name>" (model and readout). Then it writes the weights with `save_weights` (so the
app's File > Import weights opens them). The sidecar alone is the unit a resume reads, so a
kill or a full disk between the two renames can never resume from a mix of two iterations
(the weights at `path` are at worst the previous save's copy). A sidecar without
"format" (written before) is read with the weights at `path`, as before.

Limits (`TrainConfig`): length, hidden size, batch size and symbols have upper bounds and
the memory a run needs is estimated up front (`MAX_TRAIN_BYTES`), so an impossible size is
one clear message, never a MemoryError.
"""

from __future__ import annotations

import json
import math
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .. import cells
from ..errors import EngineError, WeightFileError
from ..files import sweep_stale, temp_beside
from ..model import Model, build_model, check_choice, check_size, options_for
from ..readout import Readout, build_readout, loss_and_grad
from ..stack import StackedModel, build_stack, check_num_layers, layer_key, stack_forward
from ..tasks import Task, make_task
from ..weights_io import atomic_savez, load_weights, save_weights
from .kernels import loss_and_grads
from .optim import CLIP_MODES, OPTIMIZERS, clip_gradients, make_optimizer

TRAIN_TASKS = ("adding", "recall")
EVAL_SIZE = 1000
EVAL_CHUNK = 250
#: adding: evaluation MSE below this counts as solved (always answering 1 gives ~0.167).
ADDING_SOLVED_MSE = 0.01
#: recall: evaluation accuracy at or above this counts as solved (chance is 1/K).
RECALL_SOLVED_ACCURACY = 0.95
READOUT_KEYS = ("readout.weight", "readout.bias")
#: Upper limits of the settings (the dock's widgets and `lstmviz train` share them).
MAX_LENGTH = 10_000
MAX_HIDDEN = 1024
MAX_BATCH = 4096
MAX_SYMBOLS = 1000
#: Largest estimated working memory of one run (training minibatch or evaluation chunk).
MAX_TRAIN_BYTES = 2 * 1024**3
#: Version of the sidecar written by `Trainer.save` (2: self-contained checkpoint).
SIDECAR_FORMAT = 2


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run. Defaults: an LSTM on adding, T = 100.

    The defaults are tuned so that, on a 2-core laptop, an LSTM solves the adding problem at
    T = 100 within about a minute and a tanh RNN with the same budget does not
    (scripts/bench_training.py).
    """

    task: str = "adding"
    length: int = 100  # adding: T; recall: lag L (T = L + 1)
    kind: str = "lstm"
    hidden_size: int = 16
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 0.02
    momentum: float = 0.9  # sgd only
    clip: float | None = 1.0
    clip_mode: str = "norm"
    forget_bias: float = 1.0  # kinds with a forget-bias option (lstm, minlstm, slstm)
    activation: str = "tanh"  # kinds with an activation option (rnn, indrnn)
    init: str = "pytorch"  # a scheme the kind lacks means its default (model.options_for)
    n_symbols: int = 4  # recall only
    noise: float = 0.0  # recall only: std of Gaussian distractors on the blank steps
    seed: int = 0
    #: stacked layers (PyTorch's num_layers); > 1 trains by the generic engine path
    #: (kernels.loss_and_grads) and saves PyTorch's weight_ih_l0 ... keys
    num_layers: int = 1

    def __post_init__(self) -> None:
        check_choice("task", self.task, TRAIN_TASKS)
        check_choice("kind", self.kind, cells.kinds())
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("clip_mode", self.clip_mode, CLIP_MODES)
        check_size("hidden_size", self.hidden_size)
        check_size("batch_size", self.batch_size)
        check_size("length", self.length)
        check_num_layers("num_layers", self.num_layers)
        if self.task == "adding" and self.length < 2:
            raise EngineError(f"length: expected >= 2 for the adding task, got {self.length}")
        if self.task == "recall":
            check_size("n_symbols", self.n_symbols)
            if self.n_symbols < 2:
                raise EngineError(f"n_symbols: expected an integer >= 2, got {self.n_symbols}")
        if isinstance(self.noise, bool) or not isinstance(self.noise, int | float) or not (
            math.isfinite(self.noise) and self.noise >= 0
        ):
            raise EngineError(f"noise: expected a finite number >= 0, got {self.noise!r}")
        for arg in ("lr", "clip"):
            v = getattr(self, arg)
            if v is None and arg == "clip":
                continue
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not (math.isfinite(v) and v > 0)
            ):
                raise EngineError(f"{arg}: expected a finite number > 0, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise EngineError(f"seed: expected an integer >= 0, got {self.seed!r}")
        for arg, top in (("length", MAX_LENGTH), ("hidden_size", MAX_HIDDEN),
                         ("batch_size", MAX_BATCH), ("n_symbols", MAX_SYMBOLS)):
            if getattr(self, arg) > top:
                raise EngineError(f"{arg}: {getattr(self, arg)} is too large; at most {top}")
        need = self.memory_bytes()
        if need > MAX_TRAIN_BYTES:
            raise EngineError(
                f"length {self.length}, hidden_size {self.hidden_size}, batch_size "
                f"{self.batch_size}: a run would need about {need / 1024**3:.1f} GiB of memory; "
                f"at most {MAX_TRAIN_BYTES / 1024**3:.0f} GiB (make one of them smaller)"
            )

    def memory_bytes(self) -> int:
        """Estimated peak bytes of one minibatch (inputs, states and per-step gate caches
        of T steps) or one evaluation chunk, whichever is larger."""
        inputs = self.n_symbols + 1 if self.task == "recall" else 2
        per_seq = self.seq_len * (inputs + 12 * self.hidden_size * self.num_layers) * 8
        return per_seq * max(self.batch_size, EVAL_CHUNK) + self.seq_len * EVAL_SIZE * inputs * 8

    @property
    def seq_len(self) -> int:
        return self.length + 1 if self.task == "recall" else self.length

    def replace(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Metrics:
    """One training iteration (computed on its minibatch, before the update).

    grad_norm / clipped_norm: global gradient norm before and after clipping (inf if the
    gradient overflowed; the update is then skipped). grad_ratio: ||dL/dh_1|| / ||dL/dh_T||
    over the batch, from the backward pass (tiny = vanishing). forget_gate / forget_bias:
    mean forget-gate activation and mean effective forget bias (LSTM), the same for the
    update gate z (GRU), None for the RNN; for a stack (num_layers > 1) both are the top
    layer's. seconds: training time so far (excludes pauses).
    """

    iteration: int
    loss: float
    accuracy: float | None
    grad_norm: float
    clipped_norm: float
    grad_ratio: float
    forget_gate: float | None
    forget_bias: float | None
    seconds: float
    skipped: bool = False


@dataclass(frozen=True)
class Evaluation:
    """Score on EVAL_SIZE fresh sequences. mse for adding, accuracy for recall (else None)."""

    loss: float
    mse: float | None
    accuracy: float | None
    solved: bool
    n: int


def derived_seed(seed: int, *path: int) -> int:
    """A 32-bit seed for a sub-stream (e.g. (1, iteration) for minibatches, (2,) for eval)."""
    return int(np.random.SeedSequence((seed, *path)).generate_state(1)[0])


def training_task(config: TrainConfig, batch_size: int, seed: int) -> Task:
    """A minibatch of the configured task (fresh sequences for this seed)."""
    opts = {}
    if config.task == "recall":
        opts = {"n_symbols": config.n_symbols, "noise": float(config.noise)}
    return make_task(config.task, config.seq_len, batch_size, seed=seed, **opts)


def gate_stats(
    kind: str, params: dict[str, np.ndarray], gate: np.ndarray | None
) -> tuple[float | None, float | None]:
    """(mean keep factor, mean effective bias of the keep gate) for kinds with a keep gate
    (cells Keep: the LSTM's forget gate, the GRU's update gate z, minGRU's 1 - z ...);
    (None, None) without one; the bias is None where the keep factor has no bias block of
    its own (the LRU's |lambda|). Keep.bias_block says which H rows of bias_ih (+ bias_hh)."""
    spec = cells.get(kind)
    if spec.keep is None or gate is None:
        return None, None
    k = spec.keep.bias_block
    if k is None:
        return float(np.mean(gate)), None
    H = gate.shape[-1]
    rows = slice(k * H, (k + 1) * H)
    bias = params["bias_ih"][rows] + (params["bias_hh"][rows] if "bias_hh" in params else 0.0)
    return float(np.mean(gate)), float(spec.keep.bias_sign * np.mean(bias))


def sidecar_path(path: str | os.PathLike) -> Path:
    """weights.npz -> weights.train.npz: where the training state lives."""
    p = Path(path)
    stem = p.name[:-4] if p.name.endswith(".npz") else p.name
    return p.with_name(f"{stem}.train.npz")


class Trainer:
    """Trains one model (plus its linear readout) on `config.task`.

    `step()` runs one minibatch; `run()` yields Metrics until a budget or a stop event.
    `model` / `readout` are immutable snapshots of the current weights.
    """

    def __init__(
        self, config: TrainConfig, *, model: Model | StackedModel | None = None,
        readout: Readout | None = None
    ) -> None:
        self.config = config
        probe = training_task(config, 1, 0)
        if model is None:
            opts, _ = options_for(config.kind, forget_bias=config.forget_bias,
                                  activation=config.activation, init=config.init)
            act = opts.pop("activation", None)
            if config.num_layers == 1:
                model = build_model(config.kind, probe.input_size, config.hidden_size,
                                    seed=config.seed, activation=act, **opts)
            else:
                model = build_stack(config.kind, probe.input_size, config.hidden_size,
                                    num_layers=config.num_layers, seed=config.seed,
                                    activation=act, **opts)
        if model.kind != config.kind or model.input_size != probe.input_size:
            raise EngineError(
                f"model: expected a {config.kind} with input size {probe.input_size} for task "
                f"{config.task!r}, got a {model.kind} with input size {model.input_size}"
            )
        layers = model.num_layers if isinstance(model, StackedModel) else 1
        if layers != config.num_layers:
            raise EngineError(f"model: expected {config.num_layers} layer(s) (num_layers), got "
                              f"{layers}")
        if readout is None:
            readout = build_readout(
                model.hidden_size, probe.output_size, seed=derived_seed(config.seed, 3)
            )
        if readout.weight.shape != (probe.output_size, model.hidden_size):
            raise EngineError(
                f"readout: expected weight shape {(probe.output_size, model.hidden_size)}, "
                f"got {readout.weight.shape}"
            )
        self._template = model
        self.params: dict[str, np.ndarray] = {k: np.array(v) for k, v in model.params.items()}
        self.params["readout.weight"] = np.array(readout.weight)
        self.params["readout.bias"] = np.array(readout.bias)
        opts = {"momentum": config.momentum} if config.optimizer == "sgd" else {}
        self.optimizer = make_optimizer(config.optimizer, config.lr, **opts)
        self.iteration = 0
        self.elapsed = 0.0

    # -- snapshots --------------------------------------------------------------------
    @property
    def model(self) -> Model | StackedModel:
        return self._template.with_params({k: self.params[k] for k in self._template.params})

    @property
    def readout(self) -> Readout:
        return Readout(self.params["readout.weight"].copy(), self.params["readout.bias"].copy())

    # -- training ---------------------------------------------------------------------
    def step(self) -> Metrics:
        """One minibatch: forward, loss, BPTT, clip, optimiser update.

        Non-finite numbers (an lr so large the weights overflow) propagate as inf / NaN into
        the Metrics, where they are shown; they never raise or warn."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return self._step()

    def _step(self) -> Metrics:
        start = time.perf_counter()
        cfg = self.config
        task = training_task(cfg, cfg.batch_size, derived_seed(cfg.seed, 1, self.iteration))
        readout = Readout(self.params["readout.weight"], self.params["readout.bias"])

        def last_step_loss(h_last: np.ndarray):
            loss, dh, dread = loss_and_grad(readout, h_last[None], task.targets, loss=task.loss)
            return loss, dh[0], dread

        top = self._template.layers[-1] if cfg.num_layers > 1 else self._template
        loss, res = loss_and_grads(
            self.params, cfg.kind, top.activation, task.xs, last_step_loss, top.options,
            cfg.num_layers)
        g = dict(res.grads)
        g["readout.weight"] = np.array(res.extra["weight"])
        g["readout.bias"] = np.array(res.extra["bias"])
        L = cfg.num_layers
        top_params = {k: self.params[layer_key(k, L - 1, L)] for k in top.params}
        fgate, fbias = gate_stats(cfg.kind, top_params, res.gate)
        before, after = clip_gradients(g, cfg.clip, cfg.clip_mode)
        skipped = not (math.isfinite(before) and math.isfinite(loss))
        if not skipped:
            self.optimizer.step(self.params, g)
        n1, nT = res.dh_first_norm, res.dh_last_norm
        ratio = n1 / nT if nT > 0 else math.nan
        accuracy = None
        if task.loss == "xent":
            y = readout(res.h_last)
            accuracy = float(np.mean(np.argmax(y, axis=-1) == task.targets))
        self.iteration += 1
        self.elapsed += time.perf_counter() - start
        return Metrics(
            self.iteration,
            float(loss),
            accuracy,
            before,
            after,
            ratio,
            fgate,
            fbias,
            self.elapsed,
            skipped,
        )

    def run(
        self,
        iterations: int | None = None,
        seconds: float | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[Metrics]:
        """Yield Metrics per iteration until `iterations` more steps, `seconds` more training
        time, or `stop()` returns True (checked before every step), whichever comes first."""
        start_it, start_s = self.iteration, self.elapsed
        while True:
            if stop is not None and stop():
                return
            if iterations is not None and self.iteration - start_it >= iterations:
                return
            if seconds is not None and self.elapsed - start_s >= seconds:
                return
            yield self.step()

    # -- state ------------------------------------------------------------------------
    def state(self) -> dict:
        """Copies of everything that changes while training (picklable, for other processes)."""
        return {
            "params": {k: v.copy() for k, v in self.params.items()},
            "optim": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "elapsed": self.elapsed,
        }

    def set_state(self, state: dict) -> None:
        """Adopt a `state()` taken from a trainer of the same config."""
        for k, v in state["params"].items():
            self.params[k] = np.array(v, dtype=np.float64)
        self.optimizer.load_state_dict(state["optim"])
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])

    # -- evaluation -------------------------------------------------------------------
    def evaluate(self, n: int = EVAL_SIZE, chunk: int = EVAL_CHUNK) -> Evaluation:
        """Loss and mse / accuracy on n fresh sequences (a seed no minibatch uses)."""
        cfg = self.config
        task = training_task(cfg, n, derived_seed(cfg.seed, 2))
        model, readout = self.model, self.readout
        sq = ce = 0.0
        correct = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for lo in range(0, n, chunk):
                xs = task.xs[:, lo : lo + chunk]
                tg = task.targets[lo : lo + chunk]
                h = stack_forward(model, xs).h
                loss, _, _ = loss_and_grad(readout, h, tg, loss=task.loss)
                m = xs.shape[1]
                if task.loss == "mse":
                    sq += loss * m * task.output_size
                else:
                    ce += loss * m
                    correct += int(np.sum(np.argmax(readout(h[-1]), axis=-1) == tg))
        if task.loss == "mse":
            mse = sq / (n * task.output_size)
            solved = bool(mse < ADDING_SOLVED_MSE)
            return Evaluation(mse, mse, None, solved, n)
        acc = correct / n
        return Evaluation(ce / n, None, acc, bool(acc >= RECALL_SOLVED_ACCURACY), n)

    # -- files ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """The checkpoint to the sidecar (returned), then the weights to `path`
        (engine.save_weights). See the module docstring for why in this order."""
        check_writable(path)
        side = sidecar_path(path)
        arrays = {
            "format": np.array(SIDECAR_FORMAT, dtype=np.int64),
            "config": np.array(self.config.to_json()),
            "iteration": np.array(self.iteration, dtype=np.int64),
            "elapsed": np.array(self.elapsed),
            "optimizer": np.array(self.optimizer.name),
        }
        for k, a in self.optimizer.state_dict().items():
            arrays[f"optim/{k}"] = a
        for k, a in self.params.items():
            arrays[f"params/{k}"] = a
        sweep_stale(side.parent, [side.name, Path(path).name])  # a killed save's leftovers
        # the pair as one unit: if the weights cannot be written (a full disk), the old
        # checkpoint is put back from a hard-link backup, so both files stay the old pair
        backup = _link_backup(side)
        try:
            atomic_savez(side, arrays)
            save_weights(path, self.model, self.readout)
        except BaseException:
            if backup is not None:
                os.replace(backup, side)
            else:
                side.unlink(missing_ok=True)
            raise
        finally:
            if backup is not None:
                backup.unlink(missing_ok=True)
        return side

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trainer:
        """Resume from `save(path)`: everything from its sidecar (format 2), so an interrupted
        save resumes from the one complete checkpoint; WeightFileError naming file and key."""
        side = sidecar_path(path)
        if not side.is_file():
            raise WeightFileError(f"{side}: training state not found (written by Trainer.save)")
        try:
            with np.load(side, allow_pickle=False) as data:
                state = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise WeightFileError(f"{side}: not a readable training state ({exc})") from exc
        for key in ("config", "iteration", "elapsed", "optim/t"):
            if key not in state:
                found = ", ".join(sorted(state)) or "none"
                raise WeightFileError(
                    f"{side}: missing key {key!r} (keys found: {found}); not a training "
                    "state written by `lstmviz train --save`")
        try:
            config = TrainConfig.from_json(str(state["config"]))
            iteration, elapsed = int(state["iteration"]), float(state["elapsed"])
        except (ValueError, TypeError) as exc:
            raise WeightFileError(f"{side}: config: not a valid training config ({exc})") from exc
        if "format" in state:  # self-contained: the weights at `path` are only a copy
            trainer = cls(config)
            for k in trainer.params:
                a = state.get(f"params/{k}")
                if a is None:
                    raise WeightFileError(f"{side}: missing key 'params/{k}'")
                if a.shape != trainer.params[k].shape or a.dtype.kind != "f":
                    raise WeightFileError(
                        f"{side}: params/{k}: expected float shape {trainer.params[k].shape}, "
                        f"got {a.dtype} {a.shape}")
                trainer.params[k] = np.array(a, dtype=np.float64)
        else:  # format 1: weights from `path`
            model, readout = load_weights(path, config.kind)
            trainer = cls(config, model=model, readout=readout)
        trainer.iteration = iteration
        trainer.elapsed = elapsed
        try:
            trainer.optimizer.load_state_dict(
                {k[len("optim/") :]: v for k, v in state.items() if k.startswith("optim/")}
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise WeightFileError(f"{side}: optimiser state: {exc}") from exc
        return trainer


def _link_backup(path: Path) -> Path | None:
    """A hard link to `path` under a temporary name beside it (None: no file, or links not
    possible there)."""
    if not path.exists():
        return None
    backup = temp_beside(path, "old")
    backup.unlink()
    try:
        os.link(path, backup)
    except OSError:
        return None
    return backup


def pair_matches(path: str | os.PathLike) -> bool:
    """Whether the weights at `path` are the checkpoint's (sidecar) parameters: False after
    a kill between the save's two renames (the weights are then the previous save's;
    `Trainer.load` resumes from the checkpoint and the next save writes a matching pair)."""
    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file() or not side.is_file():
        return not path.exists() and not side.exists()
    with np.load(side, allow_pickle=False) as data:
        saved = {k[len("params/"):]: data[k] for k in data.files if k.startswith("params/")}
        config = TrainConfig.from_json(str(data["config"]))
    model, readout = load_weights(path, config.kind)
    trainer = Trainer(config, model=model, readout=readout)
    return all(np.array_equal(trainer.params[k], saved[k]) for k in trainer.params
               if k in saved)


def check_writable(path: str | os.PathLike) -> Path:
    """Raise WeightFileError unless `path`'s folder exists and is writable (before work)."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise WeightFileError(f"{p}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WeightFileError(f"{p}: folder {folder} is not writable")
    if p.is_dir():
        raise WeightFileError(f"{p}: is a folder, expected a file path")
    return p


def train(
    config: TrainConfig,
    iterations: int | None = None,
    seconds: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[Trainer, list[Metrics]]:
    """Convenience: a fresh Trainer run to a budget -> (trainer, every iteration's Metrics)."""
    trainer = Trainer(config)
    return trainer, list(trainer.run(iterations, seconds, stop))
