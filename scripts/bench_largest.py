"""The largest settings the Settings dock allows (T = 1000, H = 512, three models): how long
stage one (forward, backward, cheap diagnostics), the first picture (the forward passes,
which the app shows while the backward passes compute) and stage two (the exact Jacobian
norms, in the background with progress) take, beside a floor measured in the same
run: the bare recurrence, one product with each layer's W_hh per step forward and one with
its transpose per step backward (plain NumPy, the same shapes, B rows, models on two
threads as compute_runs runs them). At B = 1 and H = 512 both are bound by memory bandwidth
(W_hh is 2, 8 and 6 MB for rnn, lstm and gru, read once per step in each pass). A
benchmark, never a test.

    PYTHONPATH=$PWD python scripts/bench_largest.py [--budget S] [--repeats N]
        [--cases B1 B2 L4]

Stage two per model stops after --budget seconds and is extrapolated from its progress
(linear in the steps done). Single-threaded BLAS, as in the app.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = {"B1": {}, "B2": {"batch_size": 2}, "L4": {"num_layers": 4}}


class _Budget(Exception):
    pass


def _weights(run) -> list[np.ndarray]:
    layers = run.stack[0].layers if run.stack is not None else [run.model]
    return [np.ascontiguousarray(m.params["weight_hh"]) for m in layers]


def _bare(weights: list[np.ndarray], T: int, B: int) -> None:
    """The bare recurrence of one model: per layer, T products h @ W_hh^T forward (tanh of
    the first H columns) and T products d @ W_hh backward."""
    for w in weights:
        H = w.shape[1]
        wt = w.T
        h = np.full((B, H), 0.1)
        for _ in range(T):
            h = np.tanh((h @ wt)[:, :H])
        d = np.ones((B, w.shape[0]))
        for _ in range(T):
            d[:, :H] = d @ w
            d[:, :H] *= 0.5


def _floor(runs, T: int, B: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda r: _bare(_weights(r), T, B), runs.values()))
    return time.perf_counter() - t0


def stage_two(runs, budget: float) -> None:
    """Print each run's stage two (its exact Jacobian norms, as the background job computes
    them), measured, or after `budget` seconds extrapolated from its progress."""
    for kind, run in runs.items():
        t0 = time.perf_counter()
        seen = [0, 1]

        def progress(done, total, t0=t0, seen=seen):
            seen[:] = [done, total]
            if time.perf_counter() - t0 > budget:
                raise _Budget

        try:
            run.completed(progress)
            note = "measured"
        except _Budget:
            note = f"extrapolated from {seen[0]} of {seen[1]} steps"
        spent = time.perf_counter() - t0
        print(f"  stage two (exact Jacobian norms, background with progress) {kind}: "
              f"{spent * seen[1] / max(seen[0], 1):.0f} s ({note})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=8.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = ap.parse_args()

    from lstmviz.config import Config, estimate_bytes
    from lstmviz.numfmt import format_bytes
    from lstmviz.session import compute_runs

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    base = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=512)
    for name in args.cases:
        config = base.replace(**CASES[name])
        T, B, L = config.seq_len, config.batch_size, config.num_layers
        ones, floors = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            runs = compute_runs(config, jacobians=False)
            ones.append(time.perf_counter() - t0)
            floors.append(_floor(runs, T, B))
        one, floor = statistics.median(ones), statistics.median(floors)
        need = format_bytes(estimate_bytes(config))
        print(f"T=1000, H=512, B={B}, L={L}, 3 models (estimate {need}): "
              f"stage one (first picture) median {one:.2f} s; floor: the bare recurrence "
              f"products {floor:.2f} s; ratio {one / floor:.2f}x")
        firsts, staged = [], []
        for _ in range(args.repeats):  # as the app computes a long recompute: forwards first
            t0 = time.perf_counter()
            seen: list[float] = []
            compute_runs(config, jacobians=False,
                         on_forward=lambda _r, t0=t0, seen=seen: seen.append(
                             time.perf_counter() - t0))
            staged.append(time.perf_counter() - t0)
            firsts.append(seen[0])
        first = statistics.median(firsts)
        print(f"  first picture (every forward pass, shown while the backward passes compute): "
              f"median {first:.2f} s, {first / floor:.2f}x the floor; stage one done after "
              f"{statistics.median(staged):.2f} s (goal: first picture <= 1 s)")
        if name == "B1":
            stage_two(runs, args.budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
