"""Benchmark stage two of a recompute minus the one-step spectral norms: for three models at
T=200, H=64, `diagnostics._jacobian_series` with `spectral_norms` of the one-step Jacobians
replaced by a stub (that part is linalg's, measured by scripts/bench_jacobian_norms.py), and
the running-product walk alone (`_products`, product norms included), for this tree and for
another revision (default: main), interleaved. Each tree runs in a worker process of its own
(the walk and the cells it calls change together, so the old diagnostics need the old cells);
the parent alternates between them. The floor beside them: the bare sequence of the walk's
matrix products (200 (H, H) @ (H, H) per dense kind, 200 (H, 2H) @ (2H, H) for the LSTM's
structured step) and product_norms of the same stacks. A benchmark, never a test.

    PYTHONPATH=$PWD python scripts/bench_products.py [--repeats N] [--against REV]

Single-threaded BLAS and linalg (the pool off), as the issue's 1-thread figures.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from io import BytesIO  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("rnn", "lstm", "gru")


def _worker() -> None:
    """Read "run <seed>" lines, answer one JSON line of timings (ms) per line."""
    import numpy as np

    from lstmviz.config import Config
    from lstmviz.engine import diagnostics as dg
    from lstmviz.engine import linalg
    from lstmviz.session import compute_runs

    linalg.THREADS = 1

    def stub(m):
        return np.zeros(len(m))

    dg.spectral_norms = stub  # the one-step norms (and the walk's non-square products)
    walk_ms = [0.0]
    products = dg._products

    def timed_products(*a, **k):
        t0 = time.perf_counter()
        out = products(*a, **k)
        walk_ms[0] += (time.perf_counter() - t0) * 1e3
        return out

    dg._products = timed_products
    config = Config(models=MODELS, seq_len=200, hidden_size=64)
    print(json.dumps({"ready": dg.__file__}), flush=True)
    for line in sys.stdin:
        seed = int(line.split()[1])
        runs = compute_runs(config.replace(seed=seed), jacobians=False)
        out = {}
        for name, run in runs.items():
            walk_ms[0] = 0.0
            t0 = time.perf_counter()
            dg._jacobian_series(run.model, run.trace)
            out[name] = ((time.perf_counter() - t0) * 1e3, walk_ms[0])
        print(json.dumps(out), flush=True)


def _floor(repeats: int) -> tuple[float, float]:
    """(ms of the bare 600 products, ms of product_norms of 3 stacks (200, 64, 64))."""
    import numpy as np

    from lstmviz.engine import linalg

    linalg.THREADS = 1
    rng = np.random.default_rng(0)
    H = 64
    sq = rng.standard_normal((200, H, H)) / np.sqrt(H)
    tall = rng.standard_normal((200, 2 * H, H)) / np.sqrt(2 * H)
    r, r2, out = np.eye(H), np.hstack([np.eye(H)] * 2), np.empty((H, H))
    prods = np.empty((200, H, H))  # a running product as the walk stores it (scaled)
    prods[-1] = r
    for k in range(199, 0, -1):
        prods[k - 1] = prods[k] @ sq[k]
        prods[k - 1] /= np.abs(prods[k - 1]).max()

    def mm():
        t0 = time.perf_counter()
        for _ in range(2):
            for k in range(200):
                np.matmul(r, sq[k], out=out)
        for k in range(200):
            np.matmul(r2, tall[k], out=out)
        return (time.perf_counter() - t0) * 1e3

    def pn():
        t0 = time.perf_counter()
        for _ in range(3):
            linalg.product_norms(prods)
        return (time.perf_counter() - t0) * 1e3

    return (statistics.median(mm() for _ in range(repeats)),
            statistics.median(pn() for _ in range(repeats)))


def _tree(rev: str) -> Path:
    """The lstmviz package of git revision rev, extracted to a temporary directory."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "lstmviz"], check=True,
                          capture_output=True).stdout
    path = Path(tempfile.mkdtemp(prefix="bench_products_"))
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(path, filter="data")
    return path


def _spawn(tree: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.Popen([sys.executable, __file__, "--worker"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = json.loads(proc.stdout.readline())
    print(f"  worker {proc.pid}: {ready['ready']}")
    return proc


def _ask(proc: subprocess.Popen, seed: int) -> dict:
    proc.stdin.write(f"run {seed}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--against", default="main")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker()
        return 0
    print(f"load average {os.getloadavg()[0]:.2f}; T=200 H=64, 1 thread, medians of "
          f"{args.repeats}")
    workers = {args.against: _spawn(_tree(args.against)), "this tree": _spawn(ROOT)}
    times = {w: [] for w in workers}
    for w in workers:
        _ask(workers[w], 98)  # warm-up
    for rep in range(args.repeats):
        for w, proc in (workers.items() if rep % 2 else reversed(workers.items())):
            times[w].append(_ask(proc, 99))
    for proc in workers.values():
        proc.stdin.close()
        proc.wait()
    print(f"{'':>10} {'stage two - spectral (ms)':>28} {'walk incl. product_norms':>26}")
    med = {}
    for w, rows in times.items():
        tot = [sum(r[m][0] for m in MODELS) for r in rows]
        walk = [sum(r[m][1] for m in MODELS) for r in rows]
        med[w] = statistics.median(tot), statistics.median(walk)
        per = "  ".join(f"{m} {statistics.median(r[m][0] for r in rows):5.1f}" for m in MODELS)
        print(f"{w:>10} {med[w][0]:8.1f} ({per}) {med[w][1]:8.1f}")
    a, b = med[args.against], med["this tree"]
    print(f"{'ratio':>10} {a[0] / b[0]:8.2f}x {'':>33} {a[1] / b[1]:8.2f}x")
    mm, pn = _floor(args.repeats)
    print(f"{'floor':>10} 600 bare np.matmul {mm:.1f} ms + product_norms of 3 stacks "
          f"{pn:.1f} ms = {mm + pn:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
