"""Success against sequence length on the adding problem for every cell kind (issue 12).

    PYTHONPATH=$PWD python scripts/sweep_kinds.py [--seconds 15] [--lengths 100 200 500 1000]

Each point trains one model (TrainConfig defaults: H = 16, batch 32, Adam 0.02, clip 1)
for the stated wall-clock budget, in 2 processes, then scores it on fresh sequences (eval
MSE; solved < 0.01, chance about 0.167). Prints one row per kind: MSE (iterations) per T.
"""

from __future__ import annotations

import argparse

import lstmviz  # noqa: F401
from lstmviz.engine import cells
from lstmviz.engine.training import sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0, help="training budget per point")
    p.add_argument("--lengths", nargs="*", type=int, default=[100, 200, 500, 1000])
    p.add_argument("--kinds", nargs="*", default=list(cells.kinds()))
    args = p.parse_args()
    points = sweep.sweep_points(kinds=args.kinds, lengths=args.lengths, iterations=10**9,
                                seconds=args.seconds)
    results = sweep.run_sweep(points, workers=2)
    table = {(r.kind, r.length): r for r in results}
    print(f"adding problem, {args.seconds:g} s of training per point, eval MSE (iterations); "
          "* = solved (< 0.01)")
    print(f"{'kind':8} " + " ".join(f"{'T=' + str(T):>18}" for T in args.lengths))
    for kind in args.kinds:
        row = []
        for T in args.lengths:
            r = table[kind, T]
            row.append(f"{r.score:9.4f}{'*' if r.solved else ' '} ({r.iterations:>5})")
        print(f"{kind:8} " + " ".join(f"{c:>18}" for c in row))


if __name__ == "__main__":
    main()
