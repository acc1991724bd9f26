"""How soon a cancel stops a recompute's stage one (issue 17): compute_runs at T=1000, H=512,
B=2 (3 models, as the app computes them, on its two threads) in a cancel scope whose hook turns
true after a delay; printed: the seconds from the cancel to the end of every thread, beside
the floor measured in the same run, the uncancelled stage one (what a cancel waited for when
the forward pass had no checkpoint). A benchmark, never a test.

    PYTHONPATH=$PWD python scripts/bench_cancel.py [--hidden-size H] [--batch-size B]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.config import Config  # noqa: E402
from lstmviz.engine.cancel import Cancelled, cancel_scope  # noqa: E402
from lstmviz.session import compute_runs  # noqa: E402


def cancel_latency(config: Config, delay: float) -> tuple[float, bool]:
    """(seconds from the cancel to the end of the work, whether it was cancelled)."""
    flag = threading.Event()
    outcome: list[str] = []

    def work() -> None:
        try:
            with cancel_scope(flag.is_set):
                compute_runs(config, jacobians=False)
            outcome.append("done")
        except Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(delay)
    flag.set()
    t0 = time.perf_counter()
    thread.join()
    return time.perf_counter() - t0, outcome == ["cancelled"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=2)
    args = parser.parse_args()
    config = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=args.hidden_size,
                    batch_size=args.batch_size)
    compute_runs(Config(models=("rnn", "lstm", "gru"), seq_len=20, hidden_size=8))  # warm-up
    t0 = time.perf_counter()
    compute_runs(config, jacobians=False)
    full = time.perf_counter() - t0
    print(f"stage one, T=1000, H={args.hidden_size}, B={args.batch_size}, 3 models: "
          f"{full:.2f} s uncancelled (the floor: what a cancel waited for without checkpoints)")
    for delay in (0.1, 0.3, 0.6):
        seconds, cancelled = cancel_latency(config, delay)
        what = "stopped" if cancelled else "had finished; ended"
        print(f"  cancel {delay:.1f} s in: {what} {seconds:.3f} s after the cancel")


if __name__ == "__main__":
    main()
