"""Headless export benchmark: `lstmviz export` of every panel as PNG at 1920 px, process
start included (a subprocess per run, wall time, median of N).

    python scripts/bench_export.py [--runs 3] [--panels LIST] [--format png] [--profile]

--profile also prints where one in-process export spends its time (imports, building the
views, rendering, writing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PANELS = "gradients,jacobians,forget,gates,cellstate,inspector"


def one_run(panels: str, fmt: str, width: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        # as a user runs it: no display set, and byte-code caching on (this sandbox sets
        # PYTHONDONTWRITEBYTECODE; main() makes one unmeasured warm-up run)
        env = {k: v for k, v in os.environ.items()
               if k not in ("QT_QPA_PLATFORM", "PYTHONDONTWRITEBYTECODE")}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "lstmviz", "export", "--out", out,
                               "--panels", panels, "--format", fmt, "--width", str(width)],
                              capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"export failed ({proc.returncode}): {proc.stderr.strip()}")
        return elapsed


def profile(panels: str, width: int) -> None:
    t0 = time.perf_counter()
    from lstmviz.ui.app import make_app

    app = make_app()
    import pyqtgraph  # noqa: F401

    t1 = time.perf_counter()
    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.ui.export.scene import HeadlessScene
    from lstmviz.ui.render import png_bytes, render_image

    session = Session(Config())
    t2 = time.perf_counter()
    names = panels.split(",")
    scene = HeadlessScene(session, names)
    scene.seek(session.n_frames - 1)
    t3 = time.perf_counter()
    times = {}
    for name in names:
        a = time.perf_counter()
        image = render_image(scene.widgets[name], width=width,
                             background=scene.theme.background)
        b = time.perf_counter()
        png_bytes(image)
        times[name] = (b - a, time.perf_counter() - b)
    t4 = time.perf_counter()
    scene.close()
    print(f"imports + QApplication {t1 - t0:.2f} s")
    print(f"session (engine)       {t2 - t1:.2f} s")
    print(f"build views            {t3 - t2:.2f} s")
    print(f"render + encode PNG    {t4 - t3:.2f} s")
    for name, (r, e) in times.items():
        print(f"  {name:<10} render {r:.3f} s, PNG {e:.3f} s")
    _ = app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--panels", default=PANELS)
    p.add_argument("--format", default="png")
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    one_run(args.panels, args.format, args.width)  # warm-up: writes the byte-code cache
    times = [one_run(args.panels, args.format, args.width) for _ in range(args.runs)]
    print(f"lstmviz export --panels {args.panels} --format {args.format} --width {args.width}")
    print("runs: " + ", ".join(f"{t:.2f}" for t in times) + " s")
    print(f"median: {statistics.median(times):.2f} s (target < 3 s)")
    if args.profile:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        profile(args.panels, args.width)


if __name__ == "__main__":
    main()
