"""Training speed per cell kind: iterations per second at T = 100 and T = 1000 (issue 12).

    PYTHONPATH=$PWD python scripts/bench_kinds_training.py [--seconds 5] [--kinds lstm mingru]

One Trainer per kind at the TrainConfig defaults (adding problem, H = 16, batch 32) except
the length; minGRU, minLSTM and the LRU train through their scans (no Python loop per
step), the RNN, LSTM and GRU through their fused kernels, IndRNN and sLSTM through the
generic step loop. Prints a table and, last, a JSON line. Timings depend on the machine's
load.
"""

from __future__ import annotations

import argparse
import json

import lstmviz  # noqa: F401  (single-threaded BLAS before NumPy loads)
from lstmviz.engine import cells
from lstmviz.engine.training.trainer import TrainConfig, Trainer


def iterations_per_second(kind: str, length: int, seconds: float) -> float:
    trainer = Trainer(TrainConfig(kind=kind, length=length))
    list(trainer.run(iterations=2))  # warm up
    it, el = trainer.iteration, trainer.elapsed
    list(trainer.run(seconds=seconds))
    return (trainer.iteration - it) / (trainer.elapsed - el)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="timed training per point")
    p.add_argument("--kinds", nargs="*", default=list(cells.kinds()))
    p.add_argument("--lengths", nargs="*", type=int, default=[100, 1000])
    args = p.parse_args()
    out: dict[str, dict[int, float]] = {}
    print(f"{'kind':8} " + " ".join(f"{'T=' + str(T):>10}" for T in args.lengths)
          + "   (iterations/s; x LSTM)")
    for kind in args.kinds:
        out[kind] = {T: iterations_per_second(kind, T, args.seconds) for T in args.lengths}
    ref = out.get(TrainConfig.kind)
    for kind, row in out.items():
        cells_ = []
        for T in args.lengths:
            rel = f" x{row[T] / ref[T]:.2f}" if ref else ""
            cells_.append(f"{row[T]:8.1f}{rel}")
        print(f"{kind:8} " + "   ".join(cells_))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
