"""Main-window playback while the Training dock trains: frames per second, with and without.

    python scripts/bench_training_playback.py [--seconds 8] [--models lstm]

One window (the default settings, offscreen), playback asked for 60 frames/s, every frame
repainted (`repaint()` after each cursor move, so a frame counts only once it is painted).
Measured in the same run: without training (before and after, averaged: the machine's load
drifts), and while the Training dock trains (adding, T = 100, the dock's defaults; one
process per model named by --models). Prints both
rates, the floor asked for (30 frames/s) and the ratio, then one JSON line. A benchmark, not
a test: the figures depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

FLOOR = 30.0


def measure(app, window, seconds: float) -> float:
    """Painted frames per second while playback runs for `seconds`."""
    session = window.session
    frames = [0]

    def on_frame() -> None:
        frames[0] += 1
        window.repaint()  # paint now: the frame is counted once it is on screen

    window.adapter.frameChanged.connect(on_frame)
    window.playback.set_fps(60)
    session.seek(0)
    window.playback.play(True)
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if session.cursor >= session.n_frames - 1:
            session.seek(0)
        time.sleep(0.001)
    window.playback.play(False)
    window.adapter.frameChanged.disconnect(on_frame)
    return frames[0] / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=8.0, help="measuring time per condition")
    p.add_argument("--models", default="lstm", help="models the dock trains, e.g. lstm or rnn,lstm")
    args = p.parse_args()

    from PySide6.QtCore import QSettings

    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.ui.app import make_app
    from lstmviz.ui.main_window import MainWindow

    app = make_app()
    ini = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench_training_playback.ini")
    window = MainWindow(Session(Config()), settings=QSettings(ini, QSettings.Format.IniFormat),
                        restore=False)
    window.resize(1400, 900)
    window.show()
    for _ in range(5):
        app.processEvents()
    panel = window.tools["training"]
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    for kind, box in panel.model_boxes.items():
        box.setChecked(kind in kinds)
    panel.iterations.setValue(1_000_000)

    window.recomputer.wait()  # the exact Jacobian norms of the start-up run
    measure(app, window, 2.0)  # warm-up, not counted
    idle = measure(app, window, args.seconds)
    panel.start(fresh=True)
    t0 = time.perf_counter()  # let the processes boot before measuring
    while time.perf_counter() - t0 < 3.0 or panel.progress.value() == 0:
        app.processEvents()
        time.sleep(0.01)
    busy = measure(app, window, args.seconds)
    iterations = sum(t.iteration for t in panel.trainers.values())
    panel.shutdown()
    idle = (idle + measure(app, window, args.seconds)) / 2  # before and after: load drifts
    window.close()
    ratio = busy / idle if idle else float("nan")
    print(f"playback without training: {idle:.1f} frames/s")
    print(f"playback while training {args.models}: {busy:.1f} frames/s "
          f"(floor {FLOOR:.0f}: {'ok' if busy >= FLOOR else 'BELOW'}; ratio {ratio:.2f}); "
          f"the dock trained {iterations} iterations meanwhile")
    print(json.dumps({"idle_fps": round(idle, 1), "training_fps": round(busy, 1),
                      "floor_fps": FLOOR, "ratio": round(ratio, 3), "models": kinds,
                      "iterations": iterations, "cpus": os.cpu_count(),
                      "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
