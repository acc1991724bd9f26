"""Cooperative cancel (issue 17, "Deadlock"): background jobs run the engine inside a
cancel scope whose checkpoints (every 8th forward step, each backward step, each Jacobian
product, between a run's stages, in compute_runs' own threads too) stop a cancelled job
within a few steps. Closing, deleting and quitting during every kind of background job ends
within seconds, with no os._exit needed: the process exits normally because no thread is
left computing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from lstmviz import engine
from lstmviz.config import Config
from lstmviz.engine.cancel import Cancelled, cancel_scope, carried, checkpoint
from lstmviz.session import compute_runs
from lstmviz.ui.worker import _Job, live_jobs

BIG = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=256)


def test_checkpoints_raise_only_inside_a_cancelled_scope():
    checkpoint()  # no scope: nothing
    with cancel_scope(lambda: False):
        checkpoint()
    with cancel_scope(lambda: True), pytest.raises(Cancelled):
        checkpoint()
    checkpoint()  # the scope ended
    seen = []
    with cancel_scope(lambda: True):
        fn = carried(lambda: seen.append(1) or checkpoint())
    t = threading.Thread(target=lambda: seen.append(_raises(fn)))
    t.start()
    t.join()
    assert seen == [1, True]  # the hook went along into the other thread


def _raises(fn) -> bool:
    try:
        fn()
    except Cancelled:
        return True
    return False


def test_engine_backward_and_jacobians_check_the_hook():
    model = engine.build_model("lstm", 1, 8, seed=0)
    trace = engine.forward(model, np.ones((50, 1)))
    dh = np.zeros_like(trace.h)
    dh[-1] = 1.0
    calls = []

    def hook() -> bool:
        calls.append(1)
        return len(calls) > 5

    with cancel_scope(hook), pytest.raises(Cancelled):
        engine.backward(model, trace, dh)
    assert len(calls) == 6  # stopped at the sixth step, not after all fifty
    grads = engine.backward(model, trace, dh)
    diag = engine.compute_diagnostics(model, trace, grads, jacobians=False)
    calls.clear()
    with cancel_scope(hook), pytest.raises(Cancelled):
        engine.complete_diagnostics(model, trace, diag)
    assert len(calls) == 6


def _threads() -> int:
    """Live threads but engine.linalg's persistent helper (made at its first large stack, it
    only runs work that a caller waits for)."""
    return sum(not t.name.startswith("lstmviz-linalg") for t in threading.enumerate())


@pytest.mark.parametrize("kind", ["recompute", "jacobians"])
def test_every_job_kind_stops_at_an_engine_checkpoint(kind):
    """A cancelled job and the threads it started stop within seconds (the threads of
    compute_runs' pool do not get the job's asynchronous exception: only the hook)."""
    import queue

    if kind == "recompute":
        def work(job):  # ~2 s here (BIG takes ~0.4 s, under the wait below)
            return compute_runs(replace(BIG, hidden_size=512, batch_size=2), jacobians=False)
    else:
        runs = compute_runs(Config(models=("lstm",), seq_len=1000, hidden_size=256),
                            jacobians=False)

        def work(job):
            return runs["lstm"].completed()

    before = _threads()
    outbox = queue.SimpleQueue()
    job = _Job(kind, work, outbox)
    time.sleep(0.5)
    assert job.thread.is_alive(), "the work ended before the cancel: make it larger"
    start = time.monotonic()
    job.cancel()
    deadline = start + 10
    while (job.thread.is_alive() or _threads() > before) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    seconds = time.monotonic() - start
    assert not job.thread.is_alive() and _threads() <= before, (
        f"{_threads() - before} thread(s) still computing after {seconds:.1f} s")
    assert outbox.empty()  # a cancelled job reports nothing
    assert live_jobs() == 0


PRELUDE = """
import os, sys, time, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import lstmviz
from lstmviz.ui.app import make_app
app = make_app()
from PySide6.QtCore import QSettings, QTimer
from lstmviz.config import Config
from lstmviz.session import Session
from lstmviz.ui.main_window import MainWindow
from lstmviz.ui.worker import live_jobs
settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
out = sys.argv[2]
window = MainWindow(Session(Config(models=("rnn", "lstm", "gru"), seq_len=200,
                                   hidden_size=32)), settings=settings, restore=False)
window.show()
app.processEvents()
big = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=256)
"""

START = {
    "recompute": """
        window.apply_config(big)
        assert window.recomputer.busy
    """,
    "jacobians": """
        from lstmviz.session import compute_runs
        window.session.apply(big, compute_runs(big, jacobians=False))
        window.recomputer.complete_jacobians()
        assert live_jobs() == 1
    """,
    "walkthrough ranges": """
        from lstmviz.walkthrough.model import Step
        panel = window.tools["walkthrough"]
        steps = tuple(Step(i + 1, f"s{i}", "", big.replace(seed=i)) for i in range(3))
        panel.ranges.start(object(), [s.config for s in steps])
        time.sleep(0.3)
        assert live_jobs() == 1  # the held y range of a large walkthrough, computing
    """,
    "export": """
        from lstmviz.ui.export.dialog import ExportOptions, start_export_job, targets
        job = start_export_job(window, [*window.panels.items(), ("unrolled", window.unrolled)],
                               ExportOptions(fmt="png", path=out))
        for _ in range(3):
            job._tick()
        assert job.running
    """,
    "animation": """
        from lstmviz.ui.export.dialog import ExportOptions, export_animation
        job = export_animation(window, "unrolled",
                               ExportOptions(fmt="gif", path=os.path.join(out, "a.gif")))
        for _ in range(3):
            job._tick()
        assert not job.cancelled
    """,
}

END = """
        t = time.monotonic()
        def end():
            window.close()
            window.deleteLater()
            app.quit()
        QTimer.singleShot(200, end)
        app.exec()
        while live_jobs() and time.monotonic() - t < 20:
            time.sleep(0.02)
        print(f"ended after {time.monotonic() - t:.2f} s; live jobs {live_jobs()}", flush=True)
        print("leftovers", sorted(os.listdir(out)), flush=True)
"""  # then a normal exit: a thread still computing would keep the process alive


@pytest.mark.parametrize("kind", list(START))
def test_close_delete_quit_during_every_job_kind(tmp_path, kind):
    out = tmp_path / "out"
    out.mkdir()
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(START[kind]) + textwrap.dedent(END))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "s.ini"), str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "live jobs 0" in proc.stdout, proc.stdout
    assert "leftovers []" in proc.stdout, proc.stdout  # no file, no temporary
    assert "Traceback" not in proc.stderr and "Signal source" not in proc.stderr, proc.stderr
    ended = float(proc.stdout.split("ended after ")[1].split(" s")[0])
    sys.stderr.write(f"\n{kind}: jobs stopped {ended:.2f} s after close + delete + quit\n")
    # (a forward pass checks every CHECK_EVERY steps: engine/cells/run.py)
    assert ended < 30, f"{kind}: the jobs stopped {ended:.1f} s after quit"
    assert seconds < 100, f"{kind}: {seconds:.0f} s"


def test_no_asynchronous_cancel_while_a_thread_is_starting():
    """CPython 3.11 gives a starting thread's state its starter's id until it runs: an
    asynchronous Cancelled aimed at a job then also killed the new thread before it said
    it had started, and the job waited for it for ever (a CI run hung in compute_runs'
    pool.map). While any thread is starting, cancel() leaves the job to its checkpoints."""
    import queue
    import threading
    import time

    from lstmviz.ui import worker

    def job_that_spins(started, done):
        def work(_job):
            started.set()
            end = time.monotonic() + 0.4
            while time.monotonic() < end:  # Python with no engine checkpoint
                pass
            done.set()
        return work

    starting = threading.Thread(target=lambda: None)  # stands for a thread being started
    with threading._active_limbo_lock:
        threading._limbo[starting] = starting
    try:
        started, done = threading.Event(), threading.Event()
        job = worker._Job("test", job_that_spins(started, done), queue.SimpleQueue())
        assert started.wait(5)
        job.cancel()
        job.thread.join(5)
        assert done.is_set()  # not interrupted: it ran to its end
    finally:
        with threading._active_limbo_lock:
            del threading._limbo[starting]
    started, done = threading.Event(), threading.Event()
    job = worker._Job("test", job_that_spins(started, done), queue.SimpleQueue())
    assert started.wait(5)
    job.cancel()
    job.thread.join(5)
    assert not job.thread.is_alive() and not done.is_set()  # no thread starting: stopped


def test_garbage_is_collected_on_the_gui_thread_only(qtbot):
    """A worker thread's allocations never run the cyclic collector (a collection there
    that freed a Qt object deadlocked against the GUI thread); the GUI thread's timer
    frees the garbage instead (lstmviz.ui.app.collect_garbage_on_gui_thread)."""
    import gc
    import weakref

    from PySide6.QtCore import QObject

    from lstmviz.ui.app import make_app

    make_app()  # as the app starts (the fixture gui_thread_gc did the same for this test)
    assert not gc.isenabled()

    class Node:
        pass

    node = Node()
    node.me, node.qt = node, QObject()  # a cycle holding a Qt object
    ref = weakref.ref(node)
    del node
    threads, kept = [], []

    def churn():  # far past the generation-0 threshold, in a worker thread
        threads.append(threading.current_thread().name)
        kept.extend([] for _ in range(20 * gc.get_threshold()[0]))  # (alive: counted)

    worker = threading.Thread(target=churn, name="churn")
    worker.start()
    worker.join()
    assert threads == ["churn"]
    assert ref() is not None  # the worker did not collect it
    qtbot.waitUntil(lambda: ref() is None, timeout=5000)  # the GUI thread's timer did
    kept.clear()
