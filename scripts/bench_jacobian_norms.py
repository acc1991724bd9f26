"""Benchmark: exact Jacobian norms (stage two) of three models at T=200, H=64, and the linalg
calls behind them, each timed on the stacks the engine builds. A benchmark, never a test.

    PYTHONPATH=$PWD python scripts/bench_jacobian_norms.py [--repeats N] [--profile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _stacks(seed: int = 0, T: int = 200, H: int = 64):
    """(per-step rnn stack, its running products) built like the diagnostics build them."""
    from lstmviz.engine import build_model, forward
    from lstmviz.engine import diagnostics as dg

    model = build_model("rnn", 3, H, seed=seed)
    tr = forward(model, np.random.default_rng(seed).standard_normal((T, 1, 3)))
    sl = slice(0, T)
    jac = dg._rnn_jac(model, tr, sl) if hasattr(dg, "_rnn_jac") else None
    if jac is None:
        d = tr.gates["dphi"][:, 0]
        jac = d[:, :, None] * model.params["weight_hh"][None]
    prods = np.empty((T, H, H))
    r = np.eye(H)
    for k in range(T - 1, -1, -1):
        prods[k] = r
        r = r @ jac[k]
        r /= np.abs(r).max()
    return jac, prods


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    from lstmviz.config import Config
    from lstmviz.engine import linalg
    from lstmviz.session import compute_runs

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    config = Config(models=("rnn", "lstm", "gru"), seq_len=200, hidden_size=64)
    times = []
    per_kind = {}
    for seed in range(args.repeats):
        runs = compute_runs(config.replace(seed=seed), jacobians=False)
        t0 = time.perf_counter()
        for name, run in runs.items():
            t1 = time.perf_counter()
            run.completed()
            per_kind.setdefault(name, []).append((time.perf_counter() - t1) * 1000)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"exact Jacobian norms, 3 models, T=200, H=64: median {statistics.median(times):.1f}"
          f" ms (min {min(times):.1f}); per model: "
          + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in per_kind.items()))
    jac, prods = _stacks()
    for label, fn, arg in (("spectral_norms (200 steps)", linalg.spectral_norms, jac),
                           ("product_norms (200 products)", linalg.product_norms, prods)):
        ts = []
        for _ in range(max(args.repeats, 5)):
            t0 = time.perf_counter()
            fn(arg)
            ts.append((time.perf_counter() - t0) * 1000)
        print(f"  {label}: median {statistics.median(ts):.1f} ms")
    if args.profile:
        import cProfile
        import pstats

        runs = compute_runs(config.replace(seed=99), jacobians=False)
        pr = cProfile.Profile()
        pr.enable()
        for run in runs.values():
            run.completed()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
