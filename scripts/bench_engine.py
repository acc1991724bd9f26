"""Benchmark the NumPy engine: forward + backward per kind and size, diagnostics, and PyTorch.

Single-threaded on both sides (the env vars must be set before NumPy is imported). Prints
best-of-n wall times in milliseconds; "ratio" = torch time / engine time (> 1: engine faster;
the first line's "engine/torch" is its inverse, <= 1 there is the same goal).
--goal: issue 16 only, torch/engine at H=128, T=200, B=32 (the goal >= 1) and at lecture sizes
(B = 1), each a best of interleaved runs, --repeats times, then the medians.

    python scripts/bench_engine.py [--quick | --goal [--repeats N]]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.engine import (  # noqa: E402
    KINDS,
    backward,
    build_model,
    compute_diagnostics,
    forward,
)
from lstmviz.engine.linalg import FAST_STATS  # noqa: E402

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the comparison columns are left empty
    torch = None

I = 8


def best_times(fns, repeats: int) -> list[float]:
    """Best-of-`repeats` wall time (ms) of each callable, runs interleaved so that load from
    other processes on a shared machine hits all of them alike."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return [min(t) * 1e3 for t in times]


def engine_fb(kind: str, H: int, T: int, B: int):
    model = build_model(kind, I, H, seed=0)
    xs = np.random.default_rng(0).standard_normal((T, B, I))
    dh = np.random.default_rng(1).standard_normal((T, B, H))

    def run():
        backward(model, forward(model, xs), dh)

    def run_diag():
        tr = forward(model, xs)
        compute_diagnostics(model, tr, backward(model, tr, dh))

    return run, run_diag


#: The kinds PyTorch has a module for (the others get "-" in the torch columns).
TORCH = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def torch_fb(kind: str, H: int, T: int, B: int):
    cls = getattr(torch.nn, TORCH[kind])
    net = cls(I, H).double()
    xs = torch.from_numpy(np.random.default_rng(0).standard_normal((T, B, I)))
    dh = torch.from_numpy(np.random.default_rng(1).standard_normal((T, B, H)))

    def run():
        x = xs.clone().requires_grad_(True)
        out, _ = net(x)
        out.backward(dh)
        net.zero_grad(set_to_none=True)

    return run


#: (H, T, B): issue 16's batch-32 size, lecture sizes (the walkthrough's H=16, B=1), and a
#: small batch at the largest H (cells.base.rec_matmul)
GOAL_SIZES = [(128, 200, 32), (16, 100, 1), (64, 200, 1), (512, 200, 2)]


def goal(repeats: int) -> None:
    """torch/engine per kind at GOAL_SIZES, `repeats` times (each a best of 9 interleaved
    runs), and the medians."""
    if torch is None:
        print("--goal needs torch (pip install torch)")
        return
    ratios: dict[tuple, list[float]] = {}
    for r in range(repeats):
        for H, T, B in GOAL_SIZES:
            parts = []
            for kind in TORCH:
                run, _ = engine_fb(kind, H, T, B)
                t_eng, t_torch = best_times([run, torch_fb(kind, H, T, B)], 9)
                ratios.setdefault((H, T, B, kind), []).append(t_torch / t_eng)
                parts.append(f"{kind} {t_torch / t_eng:.2f} ({t_eng:.1f} / {t_torch:.1f} ms)")
            print(f"repeat {r + 1}, H={H}, T={T}, B={B}: torch/engine " + ", ".join(parts),
                  flush=True)
    print(f"medians of {repeats} (torch/engine, >= 1: engine no slower), float64, 1 thread:")
    for H, T, B in GOAL_SIZES:
        med = ", ".join(f"{kind} {statistics.median(ratios[H, T, B, kind]):.2f}"
                        for kind in TORCH)
        print(f"  H={H:3d}, T={T:4d}, B={B:2d}: {med}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--goal", action="store_true",
                        help="issue 16 only: torch/engine at B=32 and lecture sizes, medians")
    parser.add_argument("--repeats", type=int, default=3, help="--goal: repeats (default 3)")
    args = parser.parse_args()
    if args.goal:
        goal(args.repeats)
        return
    sizes = [
        (H, T, B)
        for H in (16, 64, 128, 256)
        for T in (50, 200, 1000)
        for B in (1, 32)
        # skip the slowest big-batch combos; keep H=256,T=1000,B=1 and H=128,B=32
        if not (B == 32 and H == 256 and T == 1000)
    ]
    if args.quick:
        sizes = [(64, 200, 1), (256, 1000, 1), (128, 200, 32)]
    have_torch = torch is not None
    if have_torch:  # issue 16's goal: engine no slower than PyTorch at batch 32
        parts, inverse = [], []
        for kind in ("lstm", "gru", "rnn"):
            run, _ = engine_fb(kind, 128, 200, 32)
            t_eng, t_torch = best_times([run, torch_fb(kind, 128, 200, 32)], 9)
            parts.append(f"{kind} {t_eng / t_torch:.2f} ({t_eng:.0f} / {t_torch:.0f} ms)")
            inverse.append(f"{kind} {t_torch / t_eng:.2f}")
        print("engine/torch, forward + backward, H=128, T=200, B=32, float64, 1 thread: "
              + ", ".join(parts) + "  (goal <= 1.0)")
        print("  the same as the table's ratio, torch/engine: " + ", ".join(inverse)
              + "  (goal >= 1.0)")
    for kind in KINDS:  # the app's interactive case: one control change repaints this
        _, run_diag = engine_fb(kind, 64, 200, 1)
        FAST_STATS.update(block=0, lanczos=0, fallback=0)
        run_diag()
        stats = dict(FAST_STATS)
        (t,) = best_times([run_diag], 7)
        print(
            f"run + diagnostics, T=200, H=64, B=1, {kind}: {t:.2f} ms "
            f"(product norms proved fast: {stats['block']}, exact fallbacks: {stats['fallback']})"
        )
    print(
        f"numpy {np.__version__}"
        + (f", torch {torch.__version__}" if have_torch else ", torch not installed")
        + ", 1 thread, float64, I=8, times in ms (best of interleaved repeats)"
    )
    print("forward + backward:")
    header = f"{'kind':5} {'H':>4} {'T':>5} {'B':>3} | {'engine':>9} {'torch':>9} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for kind in KINDS:
        for H, T, B in sizes:
            work = H * H * T * B
            repeats = 7 if work < 5e6 else 3 if work < 1e8 else 2
            run, _ = engine_fb(kind, H, T, B)
            if have_torch and kind in TORCH:
                t_eng, t_torch = best_times([run, torch_fb(kind, H, T, B)], repeats)
                extra = f"{t_torch:9.2f} {t_torch / t_eng:6.2f}"
            else:
                (t_eng,) = best_times([run], repeats)
                extra = f"{'-':>9} {'-':>6}"
            print(f"{kind:5} {H:4d} {T:5d} {B:3d} | {t_eng:9.2f} {extra}")
    print()
    print("forward + backward + all diagnostics (batch element 0 Jacobians):")
    header = f"{'kind':5} {'H':>4} {'T':>5} {'B':>3} | {'total':>9} {'diagnostics':>11}"
    print(header)
    print("-" * len(header))
    diag_sizes = [(64, 200, 1), (16, 1000, 1), (128, 200, 1), (64, 1000, 1)]
    if args.quick:
        diag_sizes = diag_sizes[:1]
    for kind in KINDS:
        for H, T, B in diag_sizes:
            run, run_diag = engine_fb(kind, H, T, B)
            repeats = 9 if H * T <= 64 * 200 else 3
            t_fb, t_all = best_times([run, run_diag], repeats)
            print(f"{kind:5} {H:4d} {T:5d} {B:3d} | {t_all:9.2f} {t_all - t_fb:11.2f}")


if __name__ == "__main__":
    main()
