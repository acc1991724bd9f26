"""Benchmark the exact Jacobian norms (stage two of a recompute): three models at T=200, H=64
as `run.completed()` computes them, and the linalg calls behind them on the stacks the engine
builds, each beside the same calls of another revision's linalg.py (default: main), measured
interleaved in one run; the floor beside them: the same exact norms of the same stacks by the
plainest code (np.linalg.norm(stack, 2, axis=(1, 2))) and by one batched eigvalsh per stack.
--largest: the two stages at the largest settings the Settings dock allows (T=1000, H=512),
stage two per model until a time budget, then extrapolated from its progress (linear in T).
A benchmark, never a test.

    PYTHONPATH=$PWD python scripts/bench_jacobian_norms.py [--repeats N] [--against REV]
        [--threads N] [--profile] [--largest [--budget S]]

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
    from lstmviz.engine import linalg
    from lstmviz.session import compute_runs

    calls = []
    saved = dg.spectral_norms, dg.product_norms, linalg.THREADS
    linalg.THREADS = 1  # whole stacks (in threads, linalg.defer hands the pool parts of them)

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
        dg.spectral_norms, dg.product_norms, linalg.THREADS = saved
    return calls


def _plain_norms(m):
    return np.linalg.norm(m, 2, axis=(1, 2))


def _eigvalsh_norms(m):
    return np.sqrt(np.linalg.eigvalsh(m @ m.transpose(0, 2, 1))[:, -1])


def _largest(budget: float) -> None:
    """Stage one and stage two at T=1000, H=512 (three models, as the app computes them);
    stage two per model stops after `budget` seconds and is extrapolated from its progress
    (scripts/bench_largest.py has the floor and more sizes)."""
    from bench_largest import stage_two

    from lstmviz.config import Config
    from lstmviz.session import compute_runs

    config = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=512)
    t0 = time.perf_counter()
    runs = compute_runs(config, jacobians=False)
    print(f"largest settings (3 models, T=1000, H=512): stage one (first picture) "
          f"{time.perf_counter() - t0:.1f} s")
    stage_two(runs, budget)


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
    ap.add_argument("--largest", action="store_true", help="also time T=1000, H=512")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="seconds of stage two per model at the largest settings")
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

    before, after, after_1, cpu_1 = [], [], [], []
    new_fns = dg.spectral_norms, dg.product_norms
    threads = linalg.THREADS
    for seed in range(args.repeats):
        dg.spectral_norms, dg.product_norms = old.spectral_norms, old.product_norms
        before.append(stage_two(seed))
        dg.spectral_norms, dg.product_norms = new_fns
        after.append(stage_two(seed))
        linalg.THREADS = 1
        c0 = time.process_time()
        after_1.append(stage_two(seed))
        cpu_1.append((time.process_time() - c0) * 1000)
        linalg.THREADS = threads
    print(f"exact Jacobian norms, 3 models, T=200, H=64 (engine): before median "
          f"{statistics.median(before):.1f} ms, after median {statistics.median(after):.1f} ms"
          f" ({threads} threads), {statistics.median(after_1):.1f} ms (1 thread)"
          f"  (goal <= 100 ms)")
    print(f"  CPU time of stage two (1 thread, less sensitive to other processes): median "
          f"{statistics.median(cpu_1):.1f} ms")
    tot_b = tot_a = tot_plain = tot_eig = 0.0
    for name, stack in _recorded_stacks(config):
        tb = _median_ms(getattr(old, name), stack, args.repeats)
        ta = _median_ms(getattr(linalg, name), stack, args.repeats)
        tp = _median_ms(_plain_norms, stack, args.repeats)
        te = _median_ms(_eigvalsh_norms, stack, args.repeats)
        tot_b, tot_a, tot_plain, tot_eig = tot_b + tb, tot_a + ta, tot_plain + tp, tot_eig + te
        print(f"  {name}{stack.shape}: before {tb:.1f} ms, after {ta:.1f} ms; floor: plain "
              f"{tp:.1f} ms, batched eigvalsh {te:.1f} ms")
    print(f"  linalg calls in all: before {tot_b:.1f} ms, after {tot_a:.1f} ms")
    print(f"  floor: the same norms of the same stacks by np.linalg.norm(stack, 2, axis=(1, 2)) "
          f"{tot_plain:.1f} ms, by one batched eigvalsh of A A^T per stack {tot_eig:.1f} ms; "
          f"stage two (1 thread) = {statistics.median(after_1) / tot_plain:.2f}x plain, "
          f"{statistics.median(after_1) / tot_eig:.2f}x eigvalsh")
    steps = [stack for name, stack in _recorded_stacks(config) if name == "spectral_norms"]
    grams = np.concatenate([linalg._gram(stack) for stack in steps])
    lapack = _median_ms(linalg._exact_top, grams, args.repeats)
    print(f"  LAPACK floor: eigvalsh of the {len(grams)} one-step Gram matrices alone (no other "
          f"work), split over {threads} threads as stage two splits them: {lapack:.1f} ms; "
          f"stage two ({threads} threads) = {statistics.median(after) / lapack:.2f}x it, "
          f"{statistics.median(after) - lapack:.1f} ms for all the rest")
    if args.largest:
        _largest(args.budget)
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
