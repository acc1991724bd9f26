"""Training benchmark: iterations/s per model, LSTM vs RNN on adding T=100, sweep wall time.

    nohup /work/venv/bin/python scripts/bench_training.py > /tmp/bench_training.log 2>&1 &

1. iterations per second of each model at the TrainConfig defaults (adding, T = 100);
2. LSTM and tanh RNN on the adding problem, T = 100, `--seconds` (60) of training each,
   for seeds 0..2, one after the other (one core each time): eval MSE on 1000 fresh
   sequences (solved < 0.01; always answering 1 scores ~0.167);
3. wall time of the Training dock's default sweep (RNN and LSTM, adding, T = 10..100,
   1000 minibatches per point, 2 processes) and its results.

Timings depend on what else runs on the machine; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import lstmviz  # noqa: F401  (single-threaded BLAS before NumPy loads)
from lstmviz.engine.training import sweep
from lstmviz.engine.training.trainer import TrainConfig, Trainer


def iterations_per_second(kind: str, seconds: float) -> float:
    trainer = Trainer(TrainConfig(kind=kind))
    list(trainer.run(iterations=3))  # warm up
    start_it, start_s = trainer.iteration, trainer.elapsed
    list(trainer.run(seconds=seconds))
    return (trainer.iteration - start_it) / (trainer.elapsed - start_s)


def adding_run(kind: str, seed: int, seconds: float) -> dict:
    trainer = Trainer(TrainConfig(kind=kind, seed=seed))
    wall = time.perf_counter()
    list(trainer.run(seconds=seconds))
    ev = trainer.evaluate()
    return {
        "model": kind, "seed": seed, "iterations": trainer.iteration,
        "seconds": round(trainer.elapsed, 1), "wall": round(time.perf_counter() - wall, 1),
        "mse": round(ev.mse, 5), "solved": ev.solved,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="budget per adding run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--speed-seconds", type=float, default=5.0)
    p.add_argument("--skip-adding", action="store_true")
    args = p.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()}", flush=True)
    d = TrainConfig()
    print(f"# defaults: H={d.hidden_size}, batch {d.batch_size}, {d.optimizer} lr {d.lr}, "
          f"clip {d.clip} ({d.clip_mode}), forget bias {d.forget_bias}", flush=True)
    speed = {}
    for kind in ("rnn", "lstm", "gru"):
        speed[kind] = round(iterations_per_second(kind, args.speed_seconds), 1)
        print(f"{kind}: {speed[kind]} iterations/s (adding, T=100)", flush=True)
    runs = []
    if not args.skip_adding:
        for seed in range(args.seeds):
            for kind in ("lstm", "rnn"):
                r = adding_run(kind, seed, args.seconds)
                runs.append(r)
                print(f"adding T=100 {kind} seed {seed}: {r['iterations']} iterations in "
                      f"{r['seconds']} s, eval MSE {r['mse']} -> "
                      f"{'solved' if r['solved'] else 'not solved'}", flush=True)
    points = sweep.sweep_points()
    results, wall = sweep.timed_sweep(points, workers=2)
    for r in sorted(results, key=lambda r: (r.kind, r.length)):
        what = "eval MSE" if r.task == "adding" else "eval accuracy"
        print(f"sweep {r.task} {r.kind} length {r.length}: {what} {r.score:.4f} "
              f"({'solved' if r.solved else 'not solved'}, {r.iterations} iterations in "
              f"{r.seconds:.1f} s)", flush=True)
    print(f"sweep: {len(points)} points in {wall:.1f} s wall (2 processes)", flush=True)
    print(json.dumps({
        "iterations_per_second": speed, "adding": runs, "sweep_wall_seconds": round(wall, 1),
        "sweep": [{"task": r.task, "model": r.kind, "length": r.length, "score": r.score,
                   "solved": r.solved} for r in results],
        "load_average": os.getloadavg(),
    }))


if __name__ == "__main__":
    main()
