"""The in-app export of seven views (every panel and the unrolled network) at the Settings
dock's largest values (T=1000, H=512, three models), alone in a process: the longest step
of the export job (one per event-loop turn) and the largest event-loop gap while it runs,
against the heartbeat goal (250 ms). A benchmark, never a test.

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen python scripts/bench_export_gaps.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.config import RANGES, Config  # noqa: E402
from lstmviz.session import Session, compute_runs  # noqa: E402
from lstmviz.ui.app import make_app  # noqa: E402

GOAL_MS = 250


def main() -> None:
    app = make_app()
    from PySide6.QtCore import QSettings

    from lstmviz.ui.export.dialog import ExportOptions, start_export_job
    from lstmviz.ui.main_window import MainWindow

    config = Config(models=("rnn", "lstm", "gru"), seq_len=int(RANGES["seq_len"][1]),
                    hidden_size=int(RANGES["hidden_size"][1]))
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(Session(config, runs=compute_runs(config, jacobians=False)),
                       settings=QSettings(os.path.join(tmp, "s.ini"),
                                          QSettings.Format.IniFormat), restore=False)
        w.resize(1280, 720)
        w.show()
        start = time.perf_counter()
        while w.stager.pending or time.perf_counter() - start < 1:
            app.processEvents()
            time.sleep(0.005)
        items = [*w.panels.items(), ("unrolled", w.unrolled)]
        out = Path(tmp) / "out"
        out.mkdir()
        job = start_export_job(w, items, ExportOptions(fmt="png", path=str(out)))
        steps: list[float] = []
        tick = job._tick

        def timed() -> None:
            t = time.perf_counter()
            tick()
            steps.append(time.perf_counter() - t)

        job.timer.timeout.disconnect()
        job.timer.timeout.connect(timed)
        gaps, last = [], time.perf_counter()
        while job.running:
            app.processEvents()
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        print(f"export of {len(items)} views at T={config.seq_len}, H={config.hidden_size}: "
              f"{len(steps)} steps, longest {max(steps) * 1000:.0f} ms; largest event-loop gap "
              f"{max(gaps) * 1000:.0f} ms (goal {GOAL_MS} ms); load average "
              f"{os.getloadavg()[0]:.2f}")
        w.recomputer.shutdown()
        w.close()


if __name__ == "__main__":
    main()
