"""Benchmark the exact Jacobian norms (stage two of a recompute): three models at T=200, H=64
as `run.completed()` computes them, and the linalg calls behind them on the stacks the engine
builds, each beside the same calls of another revision's linalg.py (default: main), measured
interleaved in one run. A benchmark, never a test.

    PYTHONPATH=$PWD python scripts/bench_jacobian_norms.py [--repeats N] [--against REV]
        [--threads N] [--profile]

Single-threaded BLAS, as in the app (lstmviz sets the same env vars before NumPy loads).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load_linalg(rev: str):
    """lstmviz/engine/linalg.py as it is at git revision rev, as a module of its own."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:lstmviz/engine/linalg.py"],
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "linalg_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("linalg_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _recorded_stacks(config):
    """The (kind, function name, stack) calls the diagnostics make for one recompute."""
    from lstmviz.engine import diagnostics as dg
    from lstmviz.session import compute_runs

    calls = []
    saved = dg.spectral_norms, dg.product_norms

    def rec(name, fn):
        def wrapper(m):
            if len(m) > 8:
                calls.append((name, np.array(m)))
            return fn(m)
        return wrapper

    dg.spectral_norms = rec("spectral_norms", saved[0])
    dg.product_norms = rec("product_norms", saved[1])
    try:
        for run in compute_runs(config, jacobians=False).values():
            run.completed()
    finally:
        dg.spectral_norms, dg.product_norms = saved
    return calls


def _median_ms(fn, arg, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(arg)
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--against", default="main", help="git revision of the 'before' linalg.py")
    ap.add_argument("--threads", type=int, default=None, help="linalg.THREADS (default: auto)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    from lstmviz.config import Config
    from lstmviz.engine import diagnostics as dg
    from lstmviz.engine import linalg
    from lstmviz.session import compute_runs

    if args.threads is not None:
        linalg.THREADS = args.threads
    old = _load_linalg(args.against)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"linalg.THREADS={linalg.THREADS}, before = {args.against}")
    config = Config(models=("rnn", "lstm", "gru"), seq_len=200, hidden_size=64)

    def stage_two(seed):
        runs = compute_runs(config.replace(seed=seed), jacobians=False)
        t0 = time.perf_counter()
        for run in runs.values():
            run.completed()
        return (time.perf_counter() - t0) * 1000

    before, after, after_1 = [], [], []
    new_fns = dg.spectral_norms, dg.product_norms
    threads = linalg.THREADS
    for seed in range(args.repeats):
        dg.spectral_norms, dg.product_norms = old.spectral_norms, old.product_norms
        before.append(stage_two(seed))
        dg.spectral_norms, dg.product_norms = new_fns
        after.append(stage_two(seed))
        linalg.THREADS = 1
        after_1.append(stage_two(seed))
        linalg.THREADS = threads
    print(f"exact Jacobian norms, 3 models, T=200, H=64 (engine): before median "
          f"{statistics.median(before):.1f} ms, after median {statistics.median(after):.1f} ms"
          f" ({threads} threads), {statistics.median(after_1):.1f} ms (1 thread)"
          f"  (goal <= 100 ms)")
    tot_b = tot_a = 0.0
    for name, stack in _recorded_stacks(config):
        tb = _median_ms(getattr(old, name), stack, args.repeats)
        ta = _median_ms(getattr(linalg, name), stack, args.repeats)
        tot_b, tot_a = tot_b + tb, tot_a + ta
        print(f"  {name}{stack.shape}: before {tb:.1f} ms, after {ta:.1f} ms")
    print(f"  linalg calls in all: before {tot_b:.1f} ms, after {tot_a:.1f} ms")
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
