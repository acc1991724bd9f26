"""The first picture of a long recompute in the window (issue 16): T = 1000, H = 512, three
models, requested from the Settings dock's default. Prints when the forward passes are on
screen (the unrolled view installed), when every dock is painted with them, and when the
runs with their backward passes are installed and painted; beside the same recompute
without forward passes first (`worker.PREVIEW_SECONDS` = inf: one install when all is
computed), measured in the same run, alternating. A benchmark, never a test.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=$PWD python scripts/bench_first_picture.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def one(app, preview: bool) -> dict[str, float]:
    from PySide6.QtCore import QSettings

    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.ui import worker
    from lstmviz.ui.main_window import MainWindow

    settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(Session(Config()), settings=settings, restore=False)
    w.resize(1280, 720)
    w.show()
    for _ in range(5):
        app.processEvents()
    w.session.seek(w.session.n_frames - 5)  # the backward phase: the gradients are asked for
    worker.PREVIEW_SECONDS = 0.4 if preview else float("inf")
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    w.recomputer.previewed.connect(lambda: marks.setdefault("first", time.perf_counter() - t0))
    w.recomputer.applied.connect(lambda: marks.setdefault("applied", time.perf_counter() - t0))
    w.request_config(Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=512))
    while time.perf_counter() - t0 < 60:
        app.processEvents()
        time.sleep(0.002)
        if "first" in marks and "docks" not in marks and not w.stager.pending:
            marks["docks"] = time.perf_counter() - t0
        if "applied" in marks and not w.stager.pending:
            marks["all"] = time.perf_counter() - t0
            break
    w.close()
    worker.PREVIEW_SECONDS = 0.4
    return marks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    import lstmviz.ui  # noqa: F401 - the app's import setup (lstmviz.ui.startup)

    app = QApplication.instance() or QApplication([])
    first, docks, full, plain = [], [], [], []
    for _ in range(args.repeats):
        m = one(app, True)
        first.append(m["first"])
        docks.append(m["docks"])
        full.append(m["all"])
        plain.append(one(app, False)["all"])
    med = statistics.median
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"largest settings in the window (T=1000, H=512, 3 models), {args.repeats} runs: "
          f"first picture (forward passes, unrolled view) median {med(first):.2f} s, every "
          f"dock painted {med(docks):.2f} s, gradients installed and painted {med(full):.2f} s "
          f"(goal: first picture <= 1 s)")
    print(f"  floor: the same recompute installed once, when all is computed: painted after "
          f"median {med(plain):.2f} s; first picture at {med(first) / med(plain):.2f}x, the "
          f"whole at {med(full) / med(plain):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
