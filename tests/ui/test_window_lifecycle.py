"""Closing, deleting and quitting while background jobs run: never a deadlock, never a
wait, never "Signal source has been deleted"; every case ends within seconds."""

import os
import queue
import subprocess
import sys
import textwrap
import time

from lstmviz.ui.worker import _Job, cancel_all_jobs, live_jobs

PRELUDE = """
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import lstmviz
from lstmviz.ui.app import make_app, exit_now_if_jobs_run
app = make_app()
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtTest import QTest
from lstmviz.config import Config
from lstmviz.session import Session, compute_runs
from lstmviz.ui.main_window import MainWindow
from lstmviz.ui.worker import live_jobs
settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
big = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=128)
window = MainWindow(Session(big, runs=compute_runs(big, jacobians=False)),
                    settings=settings, restore=False)
window.show()
app.processEvents()
window.recomputer.complete_jacobians()
time.sleep(0.2)
assert live_jobs() >= 1, live_jobs()  # the Jacobian job (and perhaps a panel build)
"""


def run_script(body: str, tmp_path, timeout=90):
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "s.ini")],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc, time.monotonic() - start


def test_deleting_a_window_during_its_jacobian_job_does_not_deadlock(tmp_path):
    # the audit's reproduction: close and delete, then a Qt wait holding the GIL
    # (QTest.qWaitForWindowActive, as qtbot.waitActive) that processes the deferred delete
    proc, _ = run_script("""
        t = time.perf_counter()
        window.close()
        window.deleteLater()
        second = MainWindow(Session(Config()), settings=settings, restore=False)
        second.show()
        second.activateWindow()
        assert QTest.qWaitForWindowActive(second)
        print("second window after", round(time.perf_counter() - t, 2), "s")
        deadline = time.monotonic() + 5
        while live_jobs() and time.monotonic() < deadline:
            time.sleep(0.05)
        print("live jobs", live_jobs())
        second.close()
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "live jobs 0" in proc.stdout, proc.stdout  # the cancelled job stopped
    assert "Signal source has been deleted" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_quitting_during_a_job_exits_at_once(tmp_path):
    proc, seconds = run_script("""
        QTimer.singleShot(100, app.quit)
        t = time.monotonic()
        status = app.exec()
        print("quit", flush=True)
        sys.stderr.write(f"exec returned after {time.monotonic() - t:.2f} s\\n")
        sys.exit(exit_now_if_jobs_run(status))
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "quit" in proc.stdout
    assert seconds < 30  # building the runs takes a few; a waited-for job took 70 s
    assert "Signal source has been deleted" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_closing_a_window_cancels_its_jobs_without_waiting(make_window, qtbot):
    from lstmviz.config import Config

    window = make_window(Config(models=("rnn", "lstm", "gru"), seq_len=400, hidden_size=64))
    window.recomputer.complete_jacobians()
    start = time.monotonic()
    window.close()
    assert time.monotonic() - start < 1.0  # closeEvent waited 5 s for the job before
    qtbot.waitUntil(lambda: live_jobs() == 0, timeout=5000)


def test_a_cancelled_job_stops_mid_computation_and_reports_nothing():
    outbox = queue.SimpleQueue()

    def forever(job):
        while True:
            sum(range(1000))

    job = _Job("test", forever, outbox)
    time.sleep(0.05)
    assert job.thread.is_alive()
    job.cancel()
    job.thread.join(2)
    assert not job.thread.is_alive()
    assert outbox.empty()
    done = _Job("test", lambda job: 42, outbox)
    done.thread.join(2)
    assert outbox.get_nowait() == (done, "ok", 42)
    failing = _Job("test", lambda job: 1 / 0, outbox)
    failing.thread.join(2)
    assert outbox.get_nowait() == (failing, "error", "division by zero")
    cancel_all_jobs()
    assert live_jobs() == 0


def test_jacobian_progress_reaches_the_dock_title(qtbot, settings):
    """The exact norms of a run in several chunks report their progress (0..1, rising) to
    the Jacobians dock's title while the GUI thread stays free; the title returns after."""
    from lstmviz.config import Config
    from lstmviz.session import Session, compute_runs
    from lstmviz.ui.main_window import MainWindow

    config = Config(models=("rnn", "lstm"), seq_len=600, hidden_size=64)  # 3 chunks each
    window = MainWindow(Session(config, runs=compute_runs(config, jacobians=False)),
                        settings=settings, restore=False)
    qtbot.addWidget(window)
    window.show()
    seen, titles = [], []
    rec = window.recomputer
    rec.jacobiansProgress.connect(seen.append)
    rec.jacobiansProgress.connect(lambda f: titles.append(window.docks["jacobians"].windowTitle()))
    rec.complete_jacobians()
    rec.wait()
    assert window.session.jacobians_ready
    assert len(seen) >= 4 and seen == sorted(seen), seen
    assert 0 < seen[0] < 1 and seen[-1] == 1.0
    assert any(t.endswith("%)") for t in titles), titles
    assert window.docks["jacobians"].windowTitle() == window.panels["jacobians"].title


def _counting_job(outbox, steps=40):
    from lstmviz.engine.cancel import checkpoint

    def work(job):
        for _ in range(steps):
            checkpoint()
            time.sleep(0.005)
        return steps

    return _Job("test", work, outbox)


def test_a_pause_holds_jobs_at_their_checkpoint_until_resumed():
    from lstmviz.ui.worker import jobs_paused, pause_jobs, resume_jobs

    owner = object()
    outbox = queue.SimpleQueue()
    pause_jobs(owner, lease=30)
    try:
        job = _counting_job(outbox)
        job.thread.join(0.5)
        assert job.thread.is_alive() and outbox.empty()  # waiting at its first checkpoint
        assert jobs_paused()
    finally:
        resume_jobs(owner)
    job.thread.join(5)
    assert outbox.get_nowait() == (job, "ok", 40)
    assert not jobs_paused()


def test_a_pause_its_owner_stops_renewing_lapses():
    # the GUI thread blocked in Recomputer.wait never ticks an export job: its pause must
    # not keep the job it waits for paused for ever (a CI run hung idle so)
    from lstmviz.ui.worker import jobs_paused, pause_jobs

    outbox = queue.SimpleQueue()
    pause_jobs(object(), lease=0.3)
    start = time.monotonic()
    job = _counting_job(outbox)
    job.thread.join(10)
    assert outbox.get_nowait() == (job, "ok", 40)
    assert 0.25 < time.monotonic() - start < 5
    assert not jobs_paused()


def test_an_export_left_unticked_does_not_block_a_wait(qtbot, settings, tmp_path):
    from lstmviz.config import Config
    from lstmviz.session import Session, compute_runs
    from lstmviz.ui.export.dialog import ExportOptions, start_export_job
    from lstmviz.ui.main_window import MainWindow
    from lstmviz.ui.worker import PAUSE_LEASE, jobs_paused

    config = Config(models=("rnn", "lstm"), seq_len=300, hidden_size=48)
    window = MainWindow(Session(config, runs=compute_runs(config, jacobians=False)),
                        settings=settings, restore=False)
    qtbot.addWidget(window)
    window.show()
    job = start_export_job(window, [("gradients", window.panels["gradients"])],
                           ExportOptions(fmt="png", path=str(tmp_path / "g.png")), progress=False)
    assert jobs_paused()
    window.recomputer.complete_jacobians()
    assert not window.session.jacobians_ready
    start = time.monotonic()
    window.recomputer.wait(int((PAUSE_LEASE + 20) * 1000))  # no event loop: no export turn
    assert window.session.jacobians_ready
    assert time.monotonic() - start < PAUSE_LEASE + 20
    job.cancel()
    assert not jobs_paused()
