"""Benchmark the cell package: the generic runner against engine.unroll for rnn/lstm/gru, and
the minGRU/minLSTM/LRU scans against their step loops (and the LSTM) at T = 100 and 1000.

Single-threaded; best-of-n wall times. "it/s" = forward + full BPTT runs per second.

    python scripts/bench_cells.py [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import best_times  # noqa: E402

from lstmviz.engine import backward, build_model, forward  # noqa: E402
from lstmviz.engine.cells import get, run_backward, run_forward  # noqa: E402

I = 8


def runner_fb(name: str, H: int, T: int, B: int, scan: bool = True):
    kind = get(name)
    p = kind.init_params(I, H, np.random.default_rng(0))
    xs = np.random.default_rng(0).standard_normal((T, B, I))
    dh = np.random.default_rng(1).standard_normal((T, B, H))

    def run():
        run_backward(run_forward(kind, p, xs, scan=scan), dh, scan=scan)

    return run


def engine_fb(name: str, H: int, T: int, B: int):
    model = build_model(name, I, H, seed=0)
    xs = np.random.default_rng(0).standard_normal((T, B, I))
    dh = np.random.default_rng(1).standard_normal((T, B, H))

    def run():
        backward(model, forward(model, xs), dh)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args()
    reps = 3 if args.quick else 7
    print(f"numpy {np.__version__}, 1 thread, float64, I={I}, ms (best of interleaved repeats)")
    print("generic runner vs engine.unroll (forward + backward):")
    print(f"{'kind':5} {'H':>4} {'T':>5} {'B':>3} | {'unroll':>9} {'cells':>9} {'ratio':>6}")
    sizes = [(64, 200, 1), (128, 200, 32), (256, 1000, 1)]
    if args.quick:
        sizes = sizes[:2]
    for name in ("rnn", "lstm", "gru"):
        for H, T, B in sizes:
            t_eng, t_cell = best_times([engine_fb(name, H, T, B), runner_fb(name, H, T, B)],
                                       reps if H * T * B < 1e6 else 3)
            print(f"{name:5} {H:4d} {T:5d} {B:3d} | {t_eng:9.2f} {t_cell:9.2f} "
                  f"{t_cell / t_eng:6.2f}")
    print()
    print("scan vs step loop (forward + backward), H=64; the LSTM (step loop) for scale:")
    print(f"{'kind':8} {'T':>5} {'B':>3} | {'loop ms':>9} {'scan ms':>9} {'speed-up':>8} | "
          f"{'loop it/s':>9} {'scan it/s':>9}")
    for B in (1, 32):
        for T in (100, 1000):
            (t_lstm,) = best_times([runner_fb("lstm", 64, T, B)], 3)
            print(f"{'lstm':8} {T:5d} {B:3d} | {t_lstm:9.2f} {'-':>9} {'-':>8} | "
                  f"{1e3 / t_lstm:9.1f} {'-':>9}")
            for name in ("mingru", "minlstm", "lru"):
                t_loop, t_scan = best_times([runner_fb(name, 64, T, B, scan=False),
                                             runner_fb(name, 64, T, B, scan=True)], reps)
                print(f"{name:8} {T:5d} {B:3d} | {t_loop:9.2f} {t_scan:9.2f} "
                      f"{t_loop / t_scan:8.1f} | {1e3 / t_loop:9.1f} {1e3 / t_scan:9.1f}")

if __name__ == "__main__":
    main()
