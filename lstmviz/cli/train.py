"""`lstmviz train`: train one model headless on the adding problem or first-symbol recall.

    lstmviz train --task adding --length 100 --model lstm --seconds 60 --json
    lstmviz train --model lstm --num-layers 2 --save adding_lstm2.npz

--num-layers L (1 to 4) trains a stack of L layers (PyTorch's num_layers: layer l's outputs
are layer l+1's inputs); a stack runs the exact generic engine path for every kind (the fast
single-layer kernels score one layer's last step), and its weights are saved with PyTorch's
keys weight_ih_l0 ... bias_hh_l{L-1}. --history is for one layer only.

Progress lines go to stderr (about every 2 s). With --json, one JSON object goes to stdout
at the end with the keys: task, model, num_layers, length, seq_len, seed, hidden, batch,
optimizer, lr,
clip, iterations, seconds, iterations_per_second, train_loss (mean minibatch loss of the
last 20 iterations), eval_loss, mse (adding) or accuracy (recall) on a fresh evaluation set
of 1000 sequences, grad_ratio (geometric mean of ||dL/dh_1|| / ||dL/dh_T|| over the last 20
iterations), solved (bool), saved (path or null).

--save writes weights that File > Import weights opens, plus <name>.train.npz, the complete
checkpoint (weights, optimiser state, iteration) written first; --resume continues from it
(its settings win over the flags), so an interrupted save never resumes a mixed pair. The
folder of --save is checked before training starts.

--history DIR keeps a training history in DIR/<model>/ (engine.training.history): a snapshot
every 2% of the budget (at most 200) of the weights and of log10 ||dL/dh_t|| (and ||dL/dc_t||), the
keep-gate mean per unit and the loss on a fixed probe sequence, with the evaluation MSE every
5th snapshot; each file is written atomically, so a killed run leaves a readable history.
`lstmviz export --history DIR` draws and tabulates it.
BLAS runs single-threaded (set by `lstmviz/__init__` before NumPy loads): faster here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import deque

from lstmviz.cli import UsageError
from lstmviz.engine import cells
from lstmviz.engine.errors import EngineError
from lstmviz.engine.stack import MAX_LAYERS
from lstmviz.engine.training.history import HistoryWriter, Recorder
from lstmviz.engine.training.trainer import (
    EVAL_SIZE,
    TRAIN_TASKS,
    TrainConfig,
    Trainer,
    check_writable,
)

DEFAULTS = TrainConfig()
TAIL = 20


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 via lstmviz.cli.main
        raise UsageError(f"train: {message}")


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return v


def _clip(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    return _positive_float(text)


def parser() -> argparse.ArgumentParser:
    d = DEFAULTS
    p = _Parser(
        prog="lstmviz train",
        description="Train a recurrent model (any kind of the cell registry) on a long-memory "
        "task and report whether it "
        "solved it (adding: eval MSE < 0.01; recall: eval accuracy >= 0.95).",
    )
    p.add_argument("--task", choices=TRAIN_TASKS, default=d.task)
    p.add_argument("--length", type=_positive_int, default=d.length,
                   help="adding: sequence length T; recall: lag L (T = L + 1)")
    p.add_argument("--model", choices=list(cells.kinds()), default=d.kind)
    p.add_argument("--num-layers", type=int, choices=range(1, MAX_LAYERS + 1),
                   default=d.num_layers, metavar="L",
                   help=f"stacked layers, 1 to {MAX_LAYERS} (saved as weight_ih_l0 ...)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=_positive_float,
                        help="training-time budget (default 60 if no --iterations)")
    budget.add_argument("--iterations", type=_positive_int, help="number of minibatches")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=d.optimizer)
    p.add_argument("--lr", type=_positive_float, default=d.lr, help="learning rate")
    p.add_argument("--momentum", type=float, default=d.momentum, help="sgd momentum")
    p.add_argument("--clip", type=_clip, default=d.clip,
                   help="clipping threshold ('none' to switch off)")
    p.add_argument("--clip-mode", choices=["norm", "value"], default=d.clip_mode,
                   help="norm: rescale by the global norm (Pascanu et al. 2013); value: per entry")
    p.add_argument("--hidden", type=_positive_int, default=d.hidden_size)
    p.add_argument("--batch", type=_positive_int, default=d.batch_size)
    p.add_argument("--forget-bias", type=float, default=d.forget_bias, help="lstm only")
    p.add_argument("--activation", choices=["tanh", "relu", "sigmoid"], default=d.activation,
                   help="rnn only")
    p.add_argument("--symbols", type=_positive_int, default=d.n_symbols,
                   help="recall: number of symbols K (chance 1/K)")
    p.add_argument("--noise", type=float, default=d.noise,
                   help="recall: std of random distractors between symbol and cue")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--save", metavar="PATH", help="write weights (.npz) and PATH's .train.npz")
    p.add_argument("--resume", metavar="PATH", help="continue a run saved with --save")
    p.add_argument("--history", metavar="DIR",
                   help="keep a training history in DIR/<model>/ (see lstmviz export --history)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.save and not args.save.endswith(".npz"):
        raise UsageError(f"--save: expected a path ending in .npz, got {args.save!r}")
    if args.seconds is None and args.iterations is None:
        args.seconds = 60.0
    if args.history and args.num_layers > 1:
        raise UsageError("--history: keeps the history of a one-layer model; not available "
                         f"with --num-layers {args.num_layers} yet")
    try:
        if args.save:
            check_writable(args.save)
        if args.resume:
            trainer = Trainer.load(args.resume)
        else:
            config = TrainConfig(
                task=args.task, length=args.length, kind=args.model,
                hidden_size=args.hidden, batch_size=args.batch, optimizer=args.optimizer,
                lr=args.lr, momentum=args.momentum, clip=args.clip, clip_mode=args.clip_mode,
                forget_bias=args.forget_bias, activation=args.activation,
                n_symbols=args.symbols, noise=args.noise, seed=args.seed,
                num_layers=args.num_layers,
            )
            trainer = Trainer(config)
        recorder = None
        if args.history:  # a resumed run continues its history
            writer = HistoryWriter(args.history, trainer.config,
                                   trainer.iteration if args.resume else None)
            recorder = Recorder(args.iterations, args.seconds, writer, count=writer.kept)
    except EngineError as exc:
        raise UsageError(str(exc)) from None
    cfg = trainer.config
    if not args.quiet:
        layers = f", {cfg.num_layers} layers" if cfg.num_layers > 1 else ""
        _log(f"training {cfg.kind}{layers} on {cfg.task} (length {cfg.length}), "
             f"H={cfg.hidden_size}, "
             f"batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g}, clip {cfg.clip}, "
             + (f"{args.seconds:g} s" if args.seconds else f"{args.iterations} iterations"))
    losses: deque[float] = deque(maxlen=TAIL)
    ratios: deque[float] = deque(maxlen=TAIL)
    start_it, start_s = trainer.iteration, trainer.elapsed
    next_report = time.perf_counter() + 2.0
    if recorder is not None:
        recorder.start(trainer, take=not recorder.count)
    for m in trainer.run(iterations=args.iterations, seconds=args.seconds):
        if recorder is not None:
            recorder.after_step(trainer, m.loss)
        losses.append(m.loss)
        if math.isfinite(m.grad_ratio) and m.grad_ratio > 0:
            ratios.append(m.grad_ratio)
        if not args.quiet and time.perf_counter() >= next_report:
            next_report += 2.0
            extra = "" if m.forget_bias is None else f"  gate bias {m.forget_bias:.3f}"
            acc = "" if m.accuracy is None else f"  acc {m.accuracy:.2f}"
            _log(f"it {m.iteration:6d}  {m.seconds:7.1f} s  loss {m.loss:.4g}{acc}  "
                 f"|g| {m.grad_norm:.3g}  dh1/dhT {m.grad_ratio:.2e}{extra}")
    if recorder is not None:
        recorder.finish(trainer)
    if args.save:
        trainer.save(args.save)
    ev = trainer.evaluate(EVAL_SIZE)
    iterations = trainer.iteration - start_it
    seconds = trainer.elapsed - start_s
    result = {
        "task": cfg.task,
        "model": cfg.kind,
        "num_layers": cfg.num_layers,
        "length": cfg.length,
        "seq_len": cfg.seq_len,
        "seed": cfg.seed,
        "hidden": cfg.hidden_size,
        "batch": cfg.batch_size,
        "optimizer": cfg.optimizer,
        "lr": cfg.lr,
        "clip": cfg.clip,
        "iterations": iterations,
        "seconds": round(seconds, 3),
        "iterations_per_second": round(iterations / seconds, 2) if seconds > 0 else None,
        "train_loss": (sum(losses) / len(losses)) if losses else None,
        "eval_loss": ev.loss,
        "grad_ratio": (math.exp(sum(math.log(r) for r in ratios) / len(ratios))
                       if ratios else None),
        "solved": ev.solved,
        "saved": args.save,
    }
    result["mse" if cfg.task == "adding" else "accuracy"] = (
        ev.mse if cfg.task == "adding" else ev.accuracy)
    for k, v in result.items():  # JSON has no NaN / inf
        if isinstance(v, float) and not math.isfinite(v):
            result[k] = None
    if not args.quiet:
        score = f"mse {ev.mse:.4g}" if ev.mse is not None else f"accuracy {ev.accuracy:.3f}"
        _log(f"done: {iterations} iterations in {seconds:.1f} s; eval on {ev.n} fresh "
             f"sequences: {score} -> {'solved' if ev.solved else 'not solved'}")
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0
