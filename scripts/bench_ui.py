"""UI speed on the offscreen platform: frame time, recompute-to-repaint, launch time.

    python scripts/bench_ui.py

Targets (issue 3): median frame under 16 ms with three models at T = 500, H = 64;
a control change repainted within 50 ms at T = 200, H = 64; first window under 2 s.
Issue 16 compares each figure with its floor, the same work done by the plainest code and
measured in the same run (scripts/floor_ui.py): frame <= 1.0x the bare pyqtgraph frame,
control change <= 3 floor frames, launch <= 1.3x a bare window's launch.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

LAUNCH = """
import time, sys
t0 = time.perf_counter()
import os
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QSettings, QTimer
from lstmviz.ui.app import make_app
app = make_app()
from lstmviz.ui.main_window import MainWindow
from lstmviz.config import Config
from lstmviz.session import Session, compute_runs
c = Config()  # as `lstmviz` starts: Jacobian norms follow in the background
w = MainWindow(Session(c, runs=compute_runs(c, jacobians=False)),
               settings=QSettings(sys.argv[1], QSettings.Format.IniFormat), restore=False)
w.show()
app.processEvents()
w.repaint()
print("painted", flush=True)
"""


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def bench_launch(repeats: int = 3, script: str = LAUNCH, tree: str | None = None) -> list[float]:
    """Wall time from process start to the first painted window, as a user starts it:
    byte-code caching on (this sandbox sets PYTHONDONTWRITEBYTECODE; a user's Python does
    not), and one unmeasured warm-up run first so the cache exists. The child runs in an
    empty folder, so `python -c` does not import lstmviz from the caller's folder; it
    imports the checkout `tree` (default: this one), first on PYTHONPATH."""
    out = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    tree = tree or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", script, os.path.join(tmp, "s.ini")],
                                    stdout=subprocess.PIPE, text=True, env=env, cwd=tmp)
            line = proc.stdout.readline()
            if i:
                out.append(time.perf_counter() - t0)
            proc.wait()
            assert "painted" in line, line
    return out


def bench_jacobians(repeats: int = 5, cpu: list[float] | None = None) -> list[float]:
    """Wall time (ms) of the exact Jacobian norms of three models at T=200, H=64, as the
    app's background job computes them (stage two of a recompute); cpu, if given, gets the
    process CPU time (ms) of each."""
    from lstmviz.config import Config
    from lstmviz.session import compute_runs

    config = Config(models=("rnn", "lstm", "gru"), seq_len=200, hidden_size=64)
    out = []
    for seed in range(repeats):
        runs = compute_runs(config.replace(seed=seed), jacobians=False)
        t0, c0 = time.perf_counter(), time.process_time()
        for run in runs.values():
            run.completed()
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    return out


def main() -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from floor_ui import LAUNCH as FLOOR_LAUNCH
    from floor_ui import floor_frames
    tmp = tempfile.mkdtemp()
    settings = QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat)

    config = Config(models=("rnn", "lstm", "gru"), seq_len=500, hidden_size=64)
    t0 = time.perf_counter()
    session = Session(config)
    compute = time.perf_counter() - t0
    window = MainWindow(session, settings=settings, restore=False)
    window.resize(1500, 950)
    window.show()
    for _ in range(5):
        app.processEvents()
    times, phases = [], []
    for _ in range(session.n_frames - 1):
        t = time.perf_counter()
        session.step()
        app.processEvents()
        times.append((time.perf_counter() - t) * 1000)
        phases.append(session.frame.phase)
    print(f"compute 3 models T=500 H=64: {compute * 1000:.1f} ms")
    print(f"frame advance + repaint, 3 models, T=500, H=64, {len(times)} frames: "
          f"median {statistics.median(times):.2f} ms, p95 {pct(times, 95):.2f} ms, "
          f"max {max(times):.2f} ms  (target: median < 16 ms)")
    by_phase = {p: [t for t, q in zip(times, phases, strict=True) if q == p]
                for p in ("forward", "backward")}
    print("  median forward {:.2f} ms, backward {:.2f} ms; load average {:.2f} on {} cores "
          "(other processes slow every figure)".format(
              statistics.median(by_phase["forward"]), statistics.median(by_phase["backward"]),
              os.getloadavg()[0], os.cpu_count()))

    floor = floor_frames(app, T=500, H=64)
    floor_median = statistics.median(floor)
    print(f"  floor: bare pyqtgraph window, 5 docks, setData of 18 curves + 6 heatmaps, "
          f"{len(floor)} frames: median {floor_median:.2f} ms; ratio "
          f"{statistics.median(times) / floor_median:.2f}x  (goal <= 1.0x)")

    window.apply_config(Config(models=("rnn", "lstm", "gru"), seq_len=200, hidden_size=64))
    window.session.seek(150)
    app.processEvents()
    change, jacobians = [], []
    for seed in range(1, 21):
        t = time.perf_counter()
        window.request_config(window.session.config.replace(seed=seed))
        window.recomputer.wait(jacobians=False)  # stage 1 (when it went to the worker)
        app.processEvents()
        change.append((time.perf_counter() - t) * 1000)
        window.recomputer.wait()  # stage 2: exact Jacobian norms, in the background
        jacobians.append((time.perf_counter() - t) * 1000)
    print(f"control change -> repainted panels, 3 models, T=200, H=64: "
          f"median {statistics.median(change):.1f} ms, p95 {pct(change, 95):.1f} ms  "
          f"(target < 50 ms)")
    print(f"  ... exact Jacobian norms shown (background) after: "
          f"median {statistics.median(jacobians):.1f} ms")
    small_floor = statistics.median(floor_frames(app, T=200, H=64, n=200))
    print(f"  floor: bare pyqtgraph frame at T=200, H=64: median {small_floor:.2f} ms; control "
          f"change = {statistics.median(change) / small_floor:.1f} floor frames  (goal <= 3)")
    cpu: list[float] = []
    print(f"  exact Jacobian norms alone (engine, 3 models, T=200, H=64): median "
          f"{statistics.median(bench_jacobians(cpu=cpu)):.1f} ms  (goal <= 100 ms)")
    from lstmviz.engine import linalg
    threads = linalg.THREADS
    linalg.THREADS = 1
    one = statistics.median(bench_jacobians())
    linalg.THREADS = threads
    print(f"  ... the same on 1 thread: median {one:.1f} ms; CPU time of the first: median "
          f"{statistics.median(cpu):.1f} ms (a second thread is used while a core is spare: "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    from bench_jacobian_norms import _eigvalsh_norms, _recorded_stacks
    stacks = [m for _, m in _recorded_stacks(
        Config(models=("rnn", "lstm", "gru"), seq_len=200, hidden_size=64))]
    floor_ms = []
    for _ in range(5):
        t = time.perf_counter()
        for m in stacks:
            _eigvalsh_norms(m)
        floor_ms.append((time.perf_counter() - t) * 1000)
    print(f"  floor: one batched eigvalsh per Jacobian stack the engine builds ({len(stacks)} "
          f"stacks of {stacks[0].shape[0]}): median {statistics.median(floor_ms):.1f} ms")
    window.close()

    launch = bench_launch()
    bare = bench_launch(script=FLOOR_LAUNCH)
    print_launch(launch, bare)
    return 0


def print_launch(launch: list[float], bare: list[float], label: str = "") -> None:
    """The launch line and its floor line (scripts/bench_launch.py prints them too)."""
    median, floor = statistics.median(launch), statistics.median(bare)
    print(f"launch to first painted window (process start included){label}: "
          f"median {median:.2f} s over {len(launch)} runs  (target < 2 s)")
    print(f"  floor: bare Python + NumPy + Qt + pyqtgraph window with 5 plot docks: median "
          f"{floor:.2f} s; ratio {median / floor:.2f}x  (goal <= 1.3x)")


if __name__ == "__main__":
    sys.exit(main())
