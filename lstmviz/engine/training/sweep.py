"""Success against lag: train every (model, lag or length) pair briefly and score it on fresh
data (adding: eval MSE; recall: eval accuracy).

`run_point` is a top-level function of plain dataclasses, so it pickles into worker
processes; `run_sweep` spreads the points over a process pool (2 workers by default, one per
core) and reports each result as it lands. The headline figure: the vanilla RNN's recall
error stays at the "always answer the mean" level beyond a short length (recall: accuracy
falls to chance) while the LSTM keeps learning.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

from .history import chance_score
from .trainer import TrainConfig, Trainer

#: Defaults of the Training dock's sweep: the adding problem at T = 10..100 with the
#: TrainConfig defaults and 1000 minibatches per point (a few seconds each on 2 cores).
#: Measured (scripts/bench_training.py): the tanh RNN solves T = 10 and sits at the
#: "always answer 1" MSE of ~0.167 from T = 20 on; the LSTM still solves T = 100.
DEFAULT_LAGS = (10, 20, 40, 70, 100)
SWEEP_CONFIG = TrainConfig(task="adding")
SWEEP_ITERATIONS = 1000
#: Distractor noise the dock suggests for recall (without it a silent gap is easy even
#: for the RNN: its state drifts deterministically).
RECALL_NOISE = 1.0


@dataclass(frozen=True)
class SweepPoint:
    """One training run of the sweep: config (its kind and length set), budget."""

    config: TrainConfig
    iterations: int = SWEEP_ITERATIONS
    seconds: float | None = None
    eval_size: int = 1000


@dataclass(frozen=True)
class SweepResult:
    """kind, length (lag or T), score = eval accuracy (recall) or eval MSE (adding)."""

    kind: str
    length: int
    task: str
    seed: int
    score: float
    solved: bool
    iterations: int
    seconds: float
    #: the score of a model that learned nothing (adding: MSE 1/6; recall: accuracy 1/K)
    chance: float = float("nan")

    @property
    def at_chance(self) -> bool:
        """No better than chance: adding within 10% of the chance MSE, recall within 5
        points of chance accuracy (as engine.training.history.at_chance)."""
        if self.task == "adding":
            return not self.score < 0.9 * self.chance
        return not self.score > self.chance + 0.05


def sweep_summary(results: Iterable[SweepResult]) -> dict[str, str]:
    """Per kind, in words: 'solved at every T (10 to 100)', 'solved at T = 10; at chance from
    T = 20', 'solved at T = 10, 40; at chance at T = 20, 70', 'not solved at any T' (L for
    recall)."""
    by_kind: dict[str, list[SweepResult]] = {}
    for r in sorted(results, key=lambda r: (r.length, r.seed)):
        by_kind.setdefault(r.kind, []).append(r)
    out = {}
    for kind, rs in by_kind.items():
        var = "L" if rs[0].task == "recall" else "T"
        solved = sorted({r.length for r in rs if r.solved})
        chance = sorted({r.length for r in rs if r.at_chance})
        lengths = sorted({r.length for r in rs})
        if solved == lengths:
            out[kind] = f"solved at every {var} ({lengths[0]} to {lengths[-1]})"
            continue
        text = (f"solved at {var} = {', '.join(map(str, solved))}" if solved
                else f"not solved at any {var}")
        if chance:
            tail = [n for n in lengths if n >= chance[0]]
            text += (f"; at chance from {var} = {chance[0]}" if chance == tail
                     else f"; at chance at {var} = {', '.join(map(str, chance))}")
        out[kind] = text
    return out


class SweepCancelled(Exception):  # noqa: N818 - a normal outcome
    """A point stopped by the sweep's cancel event before its budget (no result)."""


#: Set in each worker process by `_init_worker`: the sweep's cancel event.
_CANCEL = None


def _init_worker(event) -> None:
    global _CANCEL
    _CANCEL = event
    if hasattr(os, "nice"):
        os.nice(10)  # the GUI first: the sweep yields the CPU to playback


def run_point(point: SweepPoint) -> SweepResult:
    """Train one point to its budget and evaluate it (runs in a worker process); raises
    SweepCancelled as soon as the sweep's cancel event is set (checked every minibatch)."""
    trainer = Trainer(point.config)
    stop = _CANCEL.is_set if _CANCEL is not None else None
    for _ in trainer.run(point.iterations, point.seconds, stop=stop):
        pass
    if stop is not None and stop():
        raise SweepCancelled(f"{point.config.kind} at {point.config.length}")
    ev = trainer.evaluate(point.eval_size)
    cfg = point.config
    score = ev.accuracy if cfg.task == "recall" else ev.mse
    return SweepResult(
        cfg.kind, cfg.length, cfg.task, cfg.seed, float(score), ev.solved, trainer.iteration,
        trainer.elapsed, chance_score(cfg),
    )


def sweep_points(
    base: TrainConfig = SWEEP_CONFIG,
    kinds: Sequence[str] = ("rnn", "lstm"),
    lengths: Iterable[int] = DEFAULT_LAGS,
    seeds: Iterable[int] = (0,),
    iterations: int = SWEEP_ITERATIONS,
    seconds: float | None = None,
) -> list[SweepPoint]:
    """The grid, longest lengths first (they take longest, so the pool stays busy)."""
    lengths = sorted(set(lengths), reverse=True)
    return [
        SweepPoint(base.replace(kind=k, length=n, seed=s), iterations, seconds)
        for n in lengths
        for k in kinds
        for s in seeds
    ]


def _single_thread_env() -> dict[str, str | None]:
    """Make spawned workers use one BLAS thread each (they inherit os.environ)."""
    old = {}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        old[var] = os.environ.get(var)
        os.environ[var] = "1"
    return old


def _restore_env(old: dict[str, str | None]) -> None:
    for var, value in old.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def run_sweep(
    points: Sequence[SweepPoint],
    workers: int = 2,
    on_result: Callable[[SweepResult], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[SweepResult]:
    """Run every point (in `workers` spawned processes; workers=0 runs inline) -> results in
    completion order. `cancelled()` is polled every 0.1 s: pending points are dropped and
    running ones stop within a minibatch (a cancel event every worker checks); when this
    returns, every worker process has exited."""
    results: list[SweepResult] = []
    if workers <= 0:
        for p in points:
            if cancelled is not None and cancelled():
                break
            r = run_point(p)
            results.append(r)
            if on_result is not None:
                on_result(r)
        return results
    ctx = multiprocessing.get_context("spawn")
    event = ctx.Event()
    old = _single_thread_env()
    try:
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(event,))
        pending: set[Future] = {pool.submit(run_point, p) for p in points}
    finally:
        _restore_env(old)
    try:
        while pending:
            if cancelled is not None and cancelled():
                break
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for f in done:
                r = f.result()
                results.append(r)
                if on_result is not None:
                    on_result(r)
    finally:
        event.set()  # running points stop within a minibatch, pending ones are dropped
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def write_csv(path: str | os.PathLike, results: Iterable[SweepResult]) -> None:
    """One row per point, sorted by kind then length; written atomically (a cancelled
    sweep's caller writes nothing: see the Training dock)."""
    import io

    from lstmviz.engine.files import atomic_write_text

    rows = sorted(results, key=lambda r: (r.kind, r.length, r.seed))
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["model", "task", "length", "seed", "score", "solved", "iterations",
                "seconds"])
    for r in rows:
        w.writerow([r.kind, r.task, r.length, r.seed, f"{r.score:.6g}", int(r.solved),
                    r.iterations, f"{r.seconds:.3f}"])
    # through the one writer: 0666 minus the umask (mkstemp's was 0600), target named
    atomic_write_text(path, buf.getvalue())


def timed_sweep(points: Sequence[SweepPoint], workers: int = 2) -> tuple[list[SweepResult], float]:
    """run_sweep and its wall time in seconds (benchmarks)."""
    start = time.perf_counter()
    results = run_sweep(points, workers)
    return results, time.perf_counter() - start
