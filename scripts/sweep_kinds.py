"""Success against sequence length on the adding problem for every cell kind (issue 12).

    PYTHONPATH=$PWD python scripts/sweep_kinds.py [--seconds 15 | --iterations 100]
        [--lengths 100 200 500 1000] [--kinds rnn lstm ...]

Each point trains one model (TrainConfig defaults: H = 16, batch 32, Adam 0.02, clip 1)
for the stated budget (wall-clock seconds, or minibatches as the Training dock's sweep and
lecture 7 step 5 count it), in 2 processes, then scores it on fresh sequences (eval MSE;
solved < 0.01, chance about 0.167). Prints one row per kind: MSE (iterations, seconds)
per T, and the sweep's wall time.
"""

from __future__ import annotations

import argparse

import lstmviz  # noqa: F401
from lstmviz.engine import cells
from lstmviz.engine.training import sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=None,
                   help="wall-clock training budget per point (default 15 without "
                        "--iterations)")
    p.add_argument("--iterations", type=int, default=None,
                   help="minibatches per point (the Training dock's sweep budget)")
    p.add_argument("--lengths", nargs="*", type=int, default=[100, 200, 500, 1000])
    p.add_argument("--kinds", nargs="*", default=list(cells.kinds()))
    args = p.parse_args()
    seconds = args.seconds if args.seconds is not None or args.iterations else 15.0
    iterations = args.iterations or 10**9
    points = sweep.sweep_points(kinds=args.kinds, lengths=args.lengths, iterations=iterations,
                                seconds=seconds)
    results, wall = sweep.timed_sweep(points, workers=2)
    table = {(r.kind, r.length): r for r in results}
    budget = " and ".join(([f"{args.iterations} minibatches"] if args.iterations else [])
                          + ([f"{seconds:g} s"] if seconds is not None else []))
    cfg = sweep.SWEEP_CONFIG
    print(f"adding problem, at most {budget} of training per point (H = {cfg.hidden_size}, "
          f"batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g}, clip {cfg.clip:g}); "
          "eval MSE (iterations, seconds); * = solved (< 0.01)")
    print(f"{'kind':8} " + " ".join(f"{'T=' + str(T):>24}" for T in args.lengths))
    for kind in args.kinds:
        row = []
        for T in args.lengths:
            r = table[kind, T]
            row.append(f"{r.score:9.4f}{'*' if r.solved else ' '} ({r.iterations:>5}, "
                       f"{r.seconds:5.1f} s)")
        print(f"{kind:8} " + " ".join(f"{c:>24}" for c in row))
    print(f"{len(points)} points in {wall:.1f} s wall time on 2 processes")


if __name__ == "__main__":
    main()
